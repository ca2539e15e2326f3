package sheet

// The bounds the tests of XLSX files go past.
const (
	MaxDirectoryBytes = maxDirectoryBytes
	MaxToken          = maxToken
	MaxDepth          = maxDepth
	MaxAttrBytes      = maxAttrBytes
)
