// Package dnc holds heed's do-not-call lists: an exact, compact, immutable
// in-memory set of ten-digit NANP numbers (Set), an Index that answers which
// lists hold a number without locks or allocations, importers for the FTC
// registry downloads, state lists and the internal list, and a versioned,
// checksummed snapshot file.
//
// # The set
//
// A Set stores numbers in their ten-digit integer form (8605550101). It is
// partitioned by exchange (the first six digits, NPA-NXX) and, inside an
// exchange, by thousands block (the seventh digit), which is also the unit in
// which carriers are given numbers. Each thousands block ("chunk") is stored in
// whichever of three encodings is smallest: a 1,000-bit bitmap, an Elias-Fano
// list of the members, or an Elias-Fano list of the non-members (so a full
// block costs two bytes). A two-level directory (area code, then a 16-byte
// entry per exchange holding the exchange's data offset and the byte length
// of each of its ten chunks) finds a chunk with one access to a small, hot
// table and one to the chunk itself.
//
// A lookup costs two dependent memory accesses (directory entry, chunk).
// ContainsBatch pipelines groups of lookups and prefetches the entries and
// chunks of the groups ahead, so that their memory latencies overlap. Large
// arrays are backed by transparent huge pages where Linux allows, so that
// lookups rarely miss the TLB.
//
// Sets never change. Apply returns a new Set that shares every untouched
// exchange with the old one and re-encodes only the touched ones, so a change
// list costs time in proportion to its length, not to the list's size.
//
// At 260 million random numbers over the US area codes a Set takes 5.8 bits
// a number (188 MB); the package dncbench measures it against the
// alternatives.
//
// # The index
//
// An Index answers for every installed list at once. The small lists (the
// internal list, and the litigator and state lists while they hold at most
// 65,536 numbers, 262,144 together) are screened by one bitmap filter of
// 16 to 512 KB that the core's cache holds: a number whose bit is clear is
// on none of them, and only the few others are looked up in those lists'
// Sets. View.LookupBatchIn asks only the lists a caller names, so that the
// gate skips the lists no rule of its calls reads (the national registry,
// for calls that are not sales calls).
//
// # Numbers
//
// The set accepts any integer below 10,000,000,000. The importers accept only
// numbers that can exist in the NANP: an area code and an exchange that both
// start with a digit from 2 to 9.
package dnc
