// The pod sandbox ("pause") image's only binary: it sleeps until it is told to stop.
module blackfriday.local/k8s-build/pause

go 1.24
