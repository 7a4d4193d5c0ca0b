package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// instr is one decoded opcode with its argument, ready to run.
type instr struct {
	op  byte
	pos int
	// val is the value a push opcode pushes: nil (None), bool, int64,
	// *big.Int, float64, string, []byte (bytes) or byteArray.
	val any
	// idx is the memo index of GET, PUT and their binary forms.
	idx int64
	// module and name are GLOBAL's arguments.
	module, name string
}

// scanner reads a whole pickle into instructions before any of them runs,
// refusing the opcodes that are not plain data. It follows the strings a
// pickle pushes and memoizes, so that it can name the global that a
// STACK_GLOBAL would look up.
type scanner struct {
	data []byte
	pos  int
	// last2 holds the two values pushed last, when they are strings
	// (nil when the value is not a string or not known).
	last2 [2]*string
	// memo records, for each memo index stored, the string stored there
	// (or nil); its size gives MEMOIZE's index.
	memo map[int64]*string
}

func scan(data []byte) ([]instr, error) {
	s := scanner{data: data, memo: map[int64]*string{}}
	var prog []instr
	for {
		if s.pos >= len(data) {
			return nil, errors.New("pickle: truncated: no STOP opcode")
		}
		in, err := s.next()
		if err != nil {
			return nil, err
		}
		prog = append(prog, in)
		if in.op == opStop {
			break
		}
	}
	if s.pos != len(data) {
		return nil, fmt.Errorf("pickle: malformed: %d bytes after STOP", len(data)-s.pos)
	}
	return prog, nil
}

func (s *scanner) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("pickle: malformed at byte %d: %s", pos, fmt.Sprintf(format, args...))
}

// pushed records the value an instruction pushed, for STACK_GLOBAL.
func (s *scanner) pushed(v *string) {
	s.last2[0], s.last2[1] = s.last2[1], v
}

func (s *scanner) next() (instr, error) {
	in := instr{op: s.data[s.pos], pos: s.pos}
	s.pos++
	var err error
	switch in.op {
	case opMark, opStop, opPop, opPopMark, opDup, opReduce, opAppend, opAppends,
		opDict, opEmptyDict, opList, opEmptyList, opSetItem, opSetItems, opTuple,
		opEmptyTuple, opTuple1, opTuple2, opTuple3, opEmptySet, opAddItems, opFrozenSet:
		s.pushed(nil)
	case opNone:
		s.pushed(nil)
	case opNewTrue, opNewFalse:
		in.val = in.op == opNewTrue
		s.pushed(nil)
	case opInt:
		in.val, err = s.intLine()
		s.pushed(nil)
	case opLong:
		in.val, err = s.longLine()
		s.pushed(nil)
	case opBinInt:
		var b []byte
		if b, err = s.read(4); err == nil {
			in.val = int64(int32(binary.LittleEndian.Uint32(b)))
		}
		s.pushed(nil)
	case opBinInt1:
		var b []byte
		if b, err = s.read(1); err == nil {
			in.val = int64(b[0])
		}
		s.pushed(nil)
	case opBinInt2:
		var b []byte
		if b, err = s.read(2); err == nil {
			in.val = int64(binary.LittleEndian.Uint16(b))
		}
		s.pushed(nil)
	case opLong1, opLong4:
		var b []byte
		if b, err = s.counted(in.op); err == nil {
			in.val = fromTwosComplement(b)
		}
		s.pushed(nil)
	case opFloat:
		var line []byte
		if line, err = s.line(); err == nil {
			var f float64
			f, err = strconv.ParseFloat(string(bytes.TrimSpace(line)), 64)
			if err != nil {
				err = s.errorf(in.pos, "FLOAT %q", line)
			}
			in.val = f
		}
		s.pushed(nil)
	case opBinFloat:
		var b []byte
		if b, err = s.read(8); err == nil {
			in.val = math.Float64frombits(binary.BigEndian.Uint64(b))
		}
		s.pushed(nil)
	case opString:
		var line, b []byte
		if line, err = s.line(); err == nil {
			if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
				return in, s.errorf(in.pos, "STRING argument not quoted")
			}
			if b, err = unescapeBytes(line[1 : len(line)-1]); err != nil {
				return in, s.errorf(in.pos, "STRING: %v", err)
			}
			in.val = py2Str(b)
		}
		s.pushedValue(in.val)
	case opBinString, opShortBinString:
		var b []byte
		if b, err = s.counted(in.op); err == nil {
			in.val = py2Str(b)
		}
		s.pushedValue(in.val)
	case opUnicode:
		var line []byte
		if line, err = s.line(); err == nil {
			in.val, err = unescapeRawUnicode(line)
			if err != nil {
				err = s.errorf(in.pos, "UNICODE: %v", err)
			}
		}
		s.pushedValue(in.val)
	case opBinUnicode, opShortBinUnicode, opBinUnicode8:
		var b []byte
		if b, err = s.counted(in.op); err == nil {
			if !validWTF8(string(b)) {
				err = s.errorf(in.pos, "str is not UTF-8")
			}
			in.val = string(b)
		}
		s.pushedValue(in.val)
	case opBinBytes, opShortBinBytes, opBinBytes8:
		var b []byte
		if b, err = s.counted(in.op); err == nil {
			in.val = bytes.Clone(b)
		}
		s.pushed(nil)
	case opByteArray8:
		var b []byte
		if b, err = s.counted(in.op); err == nil {
			in.val = byteArray(bytes.Clone(b))
		}
		s.pushed(nil)
	case opGet, opBinGet, opLongBinGet:
		in.idx, err = s.memoIndex(in.op)
		if err == nil {
			s.pushed(s.memo[in.idx])
		}
	case opPut, opBinPut, opLongBinPut:
		in.idx, err = s.memoIndex(in.op)
		if err == nil {
			s.memo[in.idx] = s.last2[1]
		}
	case opMemoize:
		s.memo[int64(len(s.memo))] = s.last2[1]
	case opGlobal:
		if in.module, in.name, err = s.globalArgs(); err == nil && !allowedGlobal(in.module, in.name) {
			err = fmt.Errorf("pickle: refused: names a global %q", in.module+" "+in.name)
		}
		s.pushed(nil)
	case opStackGlobal:
		module, name := s.last2[0], s.last2[1]
		if module == nil || name == nil {
			return in, errors.New("pickle: refused: STACK_GLOBAL names a global that is not given literally")
		}
		if !allowedGlobal(*module, *name) {
			return in, fmt.Errorf("pickle: refused: names a global %q", *module+" "+*name)
		}
		s.pushed(nil)
	case opInst:
		module, name, err := s.globalArgs()
		if err != nil {
			return in, err
		}
		return in, fmt.Errorf("pickle: refused: INST creates an instance of %q", module+" "+name)
	case opProto:
		var b []byte
		if b, err = s.read(1); err == nil && b[0] > 5 {
			err = fmt.Errorf("pickle: unsupported protocol %d", b[0])
		}
	case opFrame:
		var b []byte
		if b, err = s.read(8); err == nil && binary.LittleEndian.Uint64(b) > uint64(len(s.data)-s.pos) {
			err = errors.New("pickle: truncated: FRAME longer than the rest of the pickle")
		}
	default:
		if why, ok := refusedOps[in.op]; ok {
			return in, errors.New("pickle: refused: " + why)
		}
		return in, s.errorf(in.pos, "unknown opcode 0x%02x", in.op)
	}
	return in, err
}

// pushedValue records a pushed value that may be a string.
func (s *scanner) pushedValue(v any) {
	if str, ok := v.(string); ok {
		s.pushed(&str)
		return
	}
	s.pushed(nil)
}

// read returns the next n bytes.
func (s *scanner) read(n uint64) ([]byte, error) {
	if n > uint64(len(s.data)-s.pos) {
		return nil, fmt.Errorf("pickle: truncated: opcode at byte %d needs %d bytes, %d left", s.pos, n, len(s.data)-s.pos)
	}
	b := s.data[s.pos : s.pos+int(n)]
	s.pos += int(n)
	return b, nil
}

// line returns the bytes up to the next newline, which it skips.
func (s *scanner) line() ([]byte, error) {
	i := bytes.IndexByte(s.data[s.pos:], '\n')
	if i < 0 {
		return nil, fmt.Errorf("pickle: truncated: no newline after byte %d", s.pos)
	}
	b := s.data[s.pos : s.pos+i]
	s.pos += i + 1
	return b, nil
}

// counted reads a length of the size op uses, then that many bytes.
func (s *scanner) counted(op byte) ([]byte, error) {
	var n uint64
	switch op {
	case opShortBinString, opShortBinBytes, opShortBinUnicode, opLong1:
		b, err := s.read(1)
		if err != nil {
			return nil, err
		}
		n = uint64(b[0])
	case opBinString, opLong4:
		b, err := s.read(4)
		if err != nil {
			return nil, err
		}
		l := int32(binary.LittleEndian.Uint32(b))
		if l < 0 {
			return nil, s.errorf(s.pos-5, "negative length %d", l)
		}
		n = uint64(l)
	case opBinUnicode, opBinBytes:
		b, err := s.read(4)
		if err != nil {
			return nil, err
		}
		n = uint64(binary.LittleEndian.Uint32(b))
	default: // the 8-byte lengths
		b, err := s.read(8)
		if err != nil {
			return nil, err
		}
		n = binary.LittleEndian.Uint64(b)
	}
	return s.read(n)
}

func (s *scanner) memoIndex(op byte) (int64, error) {
	pos := s.pos - 1
	switch op {
	case opBinGet, opBinPut:
		b, err := s.read(1)
		if err != nil {
			return 0, err
		}
		return int64(b[0]), nil
	case opLongBinGet, opLongBinPut:
		b, err := s.read(4)
		if err != nil {
			return 0, err
		}
		return int64(binary.LittleEndian.Uint32(b)), nil
	}
	line, err := s.line()
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil || i < 0 {
		return 0, s.errorf(pos, "memo index %q", line)
	}
	return i, nil
}

func (s *scanner) globalArgs() (module, name string, err error) {
	m, err := s.line()
	if err != nil {
		return "", "", err
	}
	n, err := s.line()
	if err != nil {
		return "", "", err
	}
	return string(m), string(n), nil
}

// intLine parses INT's argument: "00" and "01" are False and True (as
// Python 2 wrote bools), anything else a decimal integer.
func (s *scanner) intLine() (any, error) {
	pos := s.pos - 1
	line, err := s.line()
	if err != nil {
		return nil, err
	}
	switch string(line) {
	case "00":
		return false, nil
	case "01":
		return true, nil
	}
	i, ok := parseDecimal(line)
	if !ok {
		return nil, s.errorf(pos, "INT %q", line)
	}
	return i, nil
}

// longLine parses LONG's argument: a decimal integer with an optional
// trailing L.
func (s *scanner) longLine() (any, error) {
	pos := s.pos - 1
	line, err := s.line()
	if err != nil {
		return nil, err
	}
	i, ok := parseDecimal(bytes.TrimSuffix(line, []byte("L")))
	if !ok {
		return nil, s.errorf(pos, "LONG %q", line)
	}
	return i, nil
}

// parseDecimal parses an optionally signed decimal integer as an int64 if
// it fits, else a *big.Int.
func parseDecimal(b []byte) (any, bool) {
	digits := b
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return nil, false
	}
	for _, c := range digits {
		if !isDigit(c) {
			return nil, false
		}
	}
	i, _ := new(big.Int).SetString(string(b), 10)
	return normInt(i), true
}

// normInt returns i as an int64 when it fits.
func normInt(i *big.Int) any {
	if i.IsInt64() {
		return i.Int64()
	}
	return i
}

// fromTwosComplement decodes LONG1 and LONG4 bytes: little-endian two's
// complement.
func fromTwosComplement(b []byte) any {
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	i := new(big.Int).SetBytes(be)
	if len(b) > 0 && b[len(b)-1]&0x80 != 0 {
		i.Sub(i, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(i)
}

// py2Str converts a Python 2 str: a string when it is UTF-8, else bytes.
func py2Str(b []byte) any {
	if utf8.Valid(b) {
		return string(b)
	}
	return bytes.Clone(b)
}

// unescapeBytes undoes the escapes of a Python 2 str literal, as Python's
// codecs.escape_decode does.
func unescapeBytes(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		i++
		if i == len(b) {
			return nil, errors.New(`trailing \ in string`)
		}
		switch c := b[i]; c {
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(b) && '0' <= b[i+1] && b[i+1] <= '7'; n++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		case 'x':
			v, err := uint64(0), errors.New(`invalid \x escape`)
			if i+2 < len(b) {
				v, err = strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			}
			if err != nil {
				return nil, errors.New(`invalid \x escape`)
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

// unescapeRawUnicode decodes Python's raw-unicode-escape (the UNICODE
// argument): each byte is a Latin-1 character, except that \uXXXX and
// \UXXXXXXXX after an odd number of backslashes are escapes.
func unescapeRawUnicode(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] != '\\' {
			out = utf8.AppendRune(out, rune(b[i]))
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] == '\\' {
			j++
		}
		if (j-i)%2 == 0 || j == len(b) || (b[j] != 'u' && b[j] != 'U') {
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		out = append(out, b[i:j-1]...)
		n := 4
		if b[j] == 'U' {
			n = 8
		}
		if j+1+n > len(b) {
			return "", errors.New(`truncated \uXXXX escape`)
		}
		v, err := strconv.ParseUint(string(b[j+1:j+1+n]), 16, 32)
		if err != nil || v > utf8.MaxRune {
			return "", fmt.Errorf(`invalid escape \%c%s`, b[j], b[j+1:j+1+n])
		}
		out = appendWTF8(out, rune(v))
		i = j + 1 + n
	}
	return string(out), nil
}

// appendWTF8 appends r in UTF-8, a surrogate code point included (which
// Go's utf8 would replace), as Python's "surrogatepass" writes it.
func appendWTF8(b []byte, r rune) []byte {
	if 0xd800 <= r && r <= 0xdfff {
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return utf8.AppendRune(b, r)
}
