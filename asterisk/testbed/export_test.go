package testbed

// AptMirror exposes aptMirror to the external tests.
var AptMirror = aptMirror
