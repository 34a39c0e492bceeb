{{/*
A Kubernetes quantity ("1Gi", "1024Mi", "500M", "2", "1.5Gi") as a number of bytes (a float), so that a
size in the values and the size the API server returns (canonical: "1024Mi" comes back as "1Gi") compare
by value. (include "bf.quantityBytes" "1Gi" | float64)
*/}}
{{- define "bf.quantityBytes" -}}
{{- $quantity := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $quantity -}}
{{- $suffix := trimPrefix $number $quantity -}}
{{- $factors := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- if or (not $number) (not (hasKey $factors $suffix)) -}}
{{- fail (printf "bf.quantityBytes: %q is not a size (e.g. 1Gi, 500Mi)" $quantity) -}}
{{- end -}}
{{- mulf (float64 $number) (index $factors $suffix) -}}
{{- end -}}
