#include "textflag.h"

// func prefetch(addrs []uintptr)
//
// Two addresses a turn while at least two remain (three instructions an
// address instead of five), then the last one if their number is odd.
TEXT ·prefetch(SB), NOSPLIT, $0-24
	MOVQ addrs_base+0(FP), SI
	MOVQ addrs_len+8(FP), CX
	SUBQ $2, CX
	JB last
pair:
	MOVQ (SI), AX
	MOVQ 8(SI), DX
	PREFETCHT0 (AX)
	PREFETCHT0 (DX)
	ADDQ $16, SI
	SUBQ $2, CX
	JAE pair
last:
	// CX is -1 when one address remains, -2 when none.
	CMPQ CX, $-1
	JNE done
	MOVQ (SI), AX
	PREFETCHT0 (AX)
done:
	RET
