// Package asterisk holds heed's Asterisk configuration as plain text files:
// pbx/ is the PBX that heed drives over ARI, the same files the production
// image (Dockerfile) uses, and pstn/ is the PSTN simulator that the testbed
// (package testbed) places behind the PBX's SIP trunk.
//
// The files contain placeholders of the form @@NAME@@, which the testbed and
// the production image's entrypoint replace before Asterisk starts; README.md
// lists them.
package asterisk

import "embed"

// Config holds the configuration files, named pbx/<file>.conf and
// pstn/<file>.conf, with their placeholders not yet substituted.
//
//go:embed pbx/*.conf pstn/*.conf
var Config embed.FS
