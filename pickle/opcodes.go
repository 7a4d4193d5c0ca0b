package pickle

// The pickle opcodes of protocols 0 to 5, as named by Python's pickletools.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'

	// Protocol 2.
	opProto    = 0x80
	opNewObj   = 0x81
	opExt1     = 0x82
	opExt2     = 0x83
	opExt4     = 0x84
	opTuple1   = 0x85
	opTuple2   = 0x86
	opTuple3   = 0x87
	opNewTrue  = 0x88
	opNewFalse = 0x89
	opLong1    = 0x8a
	opLong4    = 0x8b

	// Protocol 3.
	opBinBytes      = 'B'
	opShortBinBytes = 'C'

	// Protocol 4.
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opBinBytes8       = 0x8e
	opEmptySet        = 0x8f
	opAddItems        = 0x90
	opFrozenSet       = 0x91
	opNewObjEx        = 0x92
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95

	// Protocol 5.
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
)

// refusedOps are the opcodes that create objects other than plain data,
// with the reason given when a pickle uses one. GLOBAL and STACK_GLOBAL are
// checked apart: a few of their names are allowed.
var refusedOps = map[byte]string{
	opPersID:         "PERSID names a persistent object",
	opBinPersID:      "BINPERSID names a persistent object",
	opBuild:          "BUILD sets an object's state",
	opInst:           "INST creates a class instance",
	opObj:            "OBJ creates a class instance",
	opNewObj:         "NEWOBJ creates a class instance",
	opNewObjEx:       "NEWOBJ_EX creates a class instance",
	opExt1:           "EXT1 names a registered extension (a global)",
	opExt2:           "EXT2 names a registered extension (a global)",
	opExt4:           "EXT4 names a registered extension (a global)",
	opNextBuffer:     "NEXT_BUFFER reads an out-of-band buffer",
	opReadOnlyBuffer: "READONLY_BUFFER makes a read-only buffer view",
}

// allowedGlobal reports whether module.name is one of the callables that
// Python's own pickles of plain data use: set, frozenset, bytes and
// bytearray (module __builtin__ in Python 2 and protocols 0 to 2, builtins
// from protocol 3), and _codecs.encode (bytes at protocols 0 to 2).
func allowedGlobal(module, name string) bool {
	switch module {
	case "__builtin__", "builtins":
		return name == "set" || name == "frozenset" || name == "bytes" || name == "bytearray"
	case "_codecs":
		return name == "encode"
	}
	return false
}
