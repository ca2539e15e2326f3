package dnc

import "errors"

// ErrOutOfRange reports a number that is not a ten-digit NANP number, that is
// one not below 10,000,000,000.
var ErrOutOfRange = errors.New("number is not a ten-digit NANP number")

// ErrCorrupt reports a snapshot file that is truncated, damaged or not a
// snapshot at all.
var ErrCorrupt = errors.New("corrupt dnc snapshot")

// ErrVersion reports a snapshot file written in a format version this build
// cannot read.
var ErrVersion = errors.New("unsupported dnc snapshot format version")

// ErrGarbage reports an import whose input held more unparseable lines than
// the import allows. The error is a *GarbageError carrying the count and the
// first examples.
var ErrGarbage = errors.New("import input has garbage lines")

// ErrUnknownList reports a list name that is not national, internal,
// litigator or state:XX with a known state code, or a list that the index
// does not hold.
var ErrUnknownList = errors.New("unknown dnc list")

// ErrStaleChange reports a change whose sequence number is not newer than the
// one the list has already reached; the change was not applied again.
var ErrStaleChange = errors.New("dnc change is not newer than the list")

// ErrUnsupportedInput reports an input the importer cannot read, such as a zip
// archive nested inside another.
var ErrUnsupportedInput = errors.New("unsupported dnc import input")
