//go:build tools

// Package tools pins what scripts/setup monitoring builds from this module: Prometheus and promtool.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
