package pickle

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// expansion bounds the decoded value: counted as one unit per value plus
// one per byte of each str, bytes and int, it may be at most expansion ×
// maxSize units. A pickle can refer to one object many times through its
// memo; this stops a small pickle from becoming a huge value.
const expansion = 8

// Unmarshal decodes a pickle of protocol 0 to 5 that holds only plain data.
// A pickle longer than maxSize bytes is refused before it is read.
//
// The whole pickle is scanned before anything is built: a pickle that names
// a global, creates an instance or calls anything is refused with an error
// that says what it names, so no Python name is ever looked up. The only
// exceptions are the calls with which Python's own pickles write set,
// frozenset, bytes and bytearray at protocols 0 to 2 (see the package
// documentation), and those are accepted only with the arguments Python
// gives them.
//
// Every error starts with "pickle:"; refusals with "pickle: refused:".
func Unmarshal(data []byte, maxSize int) (any, error) {
	if maxSize <= 0 {
		return nil, fmt.Errorf("pickle: size limit %d is not positive", maxSize)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("pickle: %d bytes is over the limit of %d", len(data), maxSize)
	}
	prog, err := scan(data)
	if err != nil {
		return nil, err
	}
	m := machine{memo: map[int64]any{}, budget: expansion * maxSize}
	v, err := m.run(prog)
	if err != nil {
		return nil, err
	}
	return m.export(v, 0)
}

// The values the machine works with before export. Lists, dicts and sets
// are pointers: Python's memo shares them and later opcodes change them.
type (
	pyList  struct{ items []any }
	pyTuple []any
	pyDict  struct {
		keys, vals []any
		index      map[string]int
	}
	pySet struct {
		items  []any
		index  map[string]bool
		frozen bool
	}
	// byteArray is a bytearray: like bytes, but not hashable.
	byteArray []byte
	// pyGlobal is one of the allowed callables, never looked up.
	pyGlobal struct{ module, name string }
)

type machine struct {
	stack  []any
	marks  []int
	memo   map[int64]any
	budget int
	// nans counts NaN keys: each is a different key, as in Python.
	nans int
}

// malformed is an error of a pickle that is not well formed; run adds the
// position of the opcode.
type malformed string

func (e malformed) Error() string { return "pickle: malformed: " + string(e) }

func malformedf(format string, args ...any) error {
	return malformed(fmt.Sprintf(format, args...))
}

const errUnderflow = malformed("stack underflow")

// base is where the values above the last MARK start.
func (m *machine) base() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

func (m *machine) pop() (any, error) {
	if len(m.stack) <= m.base() {
		return nil, errUnderflow
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) <= m.base() {
		return nil, errUnderflow
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops the values above the last MARK, and the MARK.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, malformed("no MARK")
	}
	b := m.base()
	items := slices.Clone(m.stack[b:])
	m.stack = m.stack[:b]
	m.marks = m.marks[:len(m.marks)-1]
	return items, nil
}

// popItems pops n items when single is set (APPEND, SETITEM), else the
// items down to the last mark (APPENDS, SETITEMS).
func (m *machine) popItems(single bool, n int) ([]any, error) {
	if single {
		return m.popN(n)
	}
	return m.popMark()
}

func (m *machine) popN(n int) ([]any, error) {
	if len(m.stack)-m.base() < n {
		return nil, errUnderflow
	}
	items := slices.Clone(m.stack[len(m.stack)-n:])
	m.stack = m.stack[:len(m.stack)-n]
	return items, nil
}

// run runs a program from scan, which ends with STOP.
func (m *machine) run(prog []instr) (any, error) {
	for _, in := range prog[:len(prog)-1] {
		if err := m.step(in); err != nil {
			return nil, at(in, err)
		}
	}
	v, err := m.pop()
	return v, at(prog[len(prog)-1], err)
}

// at adds the position of in to a malformed error.
func at(in instr, err error) error {
	if e, ok := err.(malformed); ok {
		return fmt.Errorf("pickle: malformed at byte %d: %s", in.pos, string(e))
	}
	return err
}

func (m *machine) step(in instr) error {
	switch in.op {
	case opNone, opNewTrue, opNewFalse, opInt, opLong, opBinInt, opBinInt1, opBinInt2,
		opLong1, opLong4, opFloat, opBinFloat, opString, opBinString, opShortBinString,
		opUnicode, opBinUnicode, opShortBinUnicode, opBinUnicode8,
		opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		m.push(in.val)
	case opProto, opFrame:
	case opMark:
		m.marks = append(m.marks, len(m.stack))
	case opPop:
		if len(m.stack) > m.base() {
			m.stack = m.stack[:len(m.stack)-1]
		} else if _, err := m.popMark(); err != nil {
			return errUnderflow
		}
	case opPopMark:
		_, err := m.popMark()
		return err
	case opDup:
		v, err := m.top()
		if err != nil {
			return err
		}
		m.push(v)
	case opEmptyList:
		m.push(&pyList{})
	case opList:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&pyList{items: items})
	case opAppend, opAppends:
		items, err := m.popItems(in.op == opAppend, 1)
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		l, ok := t.(*pyList)
		if !ok {
			return malformedf("APPEND to %s", pyType(t))
		}
		l.items = append(l.items, items...)
	case opEmptyTuple:
		m.push(pyTuple{})
	case opTuple:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(pyTuple(items))
	case opTuple1, opTuple2, opTuple3:
		items, err := m.popN(int(in.op-opTuple1) + 1)
		if err != nil {
			return err
		}
		m.push(pyTuple(items))
	case opEmptyDict:
		m.push(&pyDict{index: map[string]int{}})
	case opDict:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d := &pyDict{index: map[string]int{}}
		if err := m.setItems(d, items); err != nil {
			return err
		}
		m.push(d)
	case opSetItem, opSetItems:
		items, err := m.popItems(in.op == opSetItem, 2)
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return malformedf("SETITEM on %s", pyType(t))
		}
		return m.setItems(d, items)
	case opEmptySet:
		m.push(&pySet{index: map[string]bool{}})
	case opAddItems:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		s, ok := t.(*pySet)
		if !ok || s.frozen {
			return malformedf("ADDITEMS to %s", pyType(t))
		}
		return m.addItems(s, items)
	case opFrozenSet:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		s := &pySet{index: map[string]bool{}, frozen: true}
		if err := m.addItems(s, items); err != nil {
			return err
		}
		m.push(s)
	case opGet, opBinGet, opLongBinGet:
		v, ok := m.memo[in.idx]
		if !ok {
			return malformedf("memo index %d not set", in.idx)
		}
		m.push(v)
	case opPut, opBinPut, opLongBinPut, opMemoize:
		v, err := m.top()
		if err != nil {
			return err
		}
		idx := in.idx
		if in.op == opMemoize {
			idx = int64(len(m.memo))
		}
		m.memo[idx] = v
	case opGlobal:
		return m.global(in.module, in.name)
	case opStackGlobal:
		names, err := m.popN(2)
		if err != nil {
			return err
		}
		module, ok1 := names[0].(string)
		name, ok2 := names[1].(string)
		if !ok1 || !ok2 {
			return errors.New("pickle: refused: STACK_GLOBAL names a global that is not given literally")
		}
		return m.global(module, name)
	case opReduce:
		items, err := m.popN(2)
		if err != nil {
			return err
		}
		g, ok := items[0].(pyGlobal)
		if !ok {
			return malformedf("REDUCE calls %s", pyType(items[0]))
		}
		args, ok := items[1].(pyTuple)
		if !ok {
			return malformedf("REDUCE arguments are %s", pyType(items[1]))
		}
		v, err := m.call(g, args)
		if err != nil {
			return err
		}
		m.push(v)
	default:
		// scan refuses every other opcode.
		return malformedf("opcode 0x%02x", in.op)
	}
	return nil
}

func (m *machine) global(module, name string) error {
	if !allowedGlobal(module, name) {
		return fmt.Errorf("pickle: refused: names a global %q", module+" "+name)
	}
	m.push(pyGlobal{module, name})
	return nil
}

func (m *machine) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return malformed("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		k, err := m.key(items[i], 0)
		if err != nil {
			return err
		}
		if j, ok := d.index[k]; ok {
			d.vals[j] = items[i+1] // Python keeps the first key, the last value.
			continue
		}
		d.index[k] = len(d.keys)
		d.keys = append(d.keys, items[i])
		d.vals = append(d.vals, items[i+1])
	}
	return nil
}

func (m *machine) addItems(s *pySet, items []any) error {
	for _, v := range items {
		k, err := m.key(v, 0)
		if err != nil {
			return err
		}
		if !s.index[k] {
			s.index[k] = true
			s.items = append(s.items, v)
		}
	}
	return nil
}

// call returns what one of the allowed globals returns, for the arguments
// Python's own pickles give it; other arguments are refused.
func (m *machine) call(g pyGlobal, args pyTuple) (any, error) {
	switch {
	case (g.name == "set" || g.name == "frozenset") && len(args) <= 1:
		s := &pySet{index: map[string]bool{}, frozen: g.name == "frozenset"}
		if len(args) == 0 {
			return s, nil
		}
		if l, ok := args[0].(*pyList); ok {
			if err := m.addItems(s, l.items); err != nil {
				return nil, err
			}
			return s, nil
		}
	case g.name == "bytes" && len(args) == 0:
		return []byte{}, nil
	case g.name == "bytearray" && len(args) == 0:
		return byteArray{}, nil
	case g.name == "bytearray" && len(args) == 1:
		if b, ok := args[0].([]byte); ok {
			return byteArray(slices.Clone(b)), nil
		}
	case g.name == "bytearray" && len(args) == 2 && args[1] == "latin-1",
		g.name == "encode" && len(args) == 2 && args[1] == "latin1":
		if s, ok := args[0].(string); ok {
			b, err := latin1(s)
			if g.name == "bytearray" {
				return byteArray(b), err
			}
			return b, err
		}
	}
	return nil, fmt.Errorf("pickle: refused: calls %q with arguments Python's pickles of plain data do not use", g.module+" "+g.name)
}

// latin1 encodes s in Latin-1.
func latin1(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, malformedf("bytes given as Latin-1 text holds U+%04X", r)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// charge takes n units from the budget.
func (m *machine) charge(n int) error {
	m.budget -= n
	if m.budget < 0 {
		return fmt.Errorf("pickle: decoded value over %d times the size limit", expansion)
	}
	return nil
}

// key returns a string that is the same for two hashable values exactly
// when Python finds them equal as dict keys or set elements (1, 1.0 and
// True are one key), or an error for a value Python cannot hash.
func (m *machine) key(v any, depth int) (string, error) {
	if depth > maxDepth {
		return "", errTooDeep
	}
	var k string
	switch v := v.(type) {
	case nil:
		k = "N"
	case bool:
		k = "i0;"
		if v {
			k = "i1;"
		}
	case int64:
		k = "i" + strconv.FormatInt(v, 10) + ";"
	case *big.Int:
		k = "i" + v.String() + ";"
	case float64:
		switch {
		case math.IsNaN(v):
			m.nans++
			k = "nan" + strconv.Itoa(m.nans) + ";"
		case v == math.Trunc(v) && !math.IsInf(v, 0):
			i, _ := big.NewFloat(v).Int(nil)
			k = "i" + i.String() + ";"
		default:
			k = "f" + strconv.FormatFloat(v, 'g', -1, 64) + ";"
		}
	case string:
		k = "s" + strconv.Itoa(len(v)) + ":" + v
	case []byte:
		k = "b" + strconv.Itoa(len(v)) + ":" + string(v)
	case pyTuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, e := range v {
			ek, err := m.key(e, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(ek)
		}
		b.WriteString(")")
		k = b.String()
	case *pySet:
		if !v.frozen {
			return "", malformed("unhashable set used as a dict key or set element")
		}
		keys := make([]string, 0, len(v.items))
		for e := range v.index {
			keys = append(keys, e)
		}
		slices.Sort(keys)
		k = "F(" + strings.Join(keys, "") + ")"
	case pyGlobal:
		return "", errGlobalValue(v)
	default:
		return "", malformedf("unhashable %s used as a dict key or set element", pyType(v))
	}
	return k, m.charge(len(k))
}

func errGlobalValue(g pyGlobal) error {
	return fmt.Errorf("pickle: refused: the global %q is used as a value, not called", g.module+" "+g.name)
}

// export converts a machine value to the types of the package documentation.
func (m *machine) export(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	if err := m.charge(1); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil, bool, int64, float64:
		return v, nil
	case *big.Int:
		return v, m.charge(len(v.Bits()) * 8)
	case string:
		return v, m.charge(len(v))
	case []byte:
		return v, m.charge(len(v))
	case byteArray:
		return []byte(v), m.charge(len(v))
	case *pyList:
		return m.exportAll(v.items, depth)
	case pyTuple:
		items, err := m.exportAll(v, depth)
		return Tuple(items), err
	case *pySet:
		items, err := m.exportAll(v.items, depth)
		return Set(items), err
	case *pyDict:
		return m.exportDict(v, depth)
	case pyGlobal:
		return nil, errGlobalValue(v)
	}
	return nil, malformedf("%s", pyType(v))
}

func (m *machine) exportAll(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, v := range items {
		var err error
		if out[i], err = m.export(v, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *machine) exportDict(d *pyDict, depth int) (any, error) {
	vals, err := m.exportAll(d.vals, depth)
	if err != nil {
		return nil, err
	}
	allStr := true
	for _, k := range d.keys {
		if _, ok := k.(string); !ok {
			allStr = false
			break
		}
	}
	if allStr {
		out := make(map[string]any, len(d.keys))
		for i, k := range d.keys {
			out[k.(string)] = vals[i]
		}
		return out, m.charge(len(d.keys))
	}
	keys, err := m.exportAll(d.keys, depth)
	if err != nil {
		return nil, err
	}
	out := make(Dict, len(keys))
	for i := range keys {
		out[i] = DictItem{keys[i], vals[i]}
	}
	return out, nil
}

// pyType names the Python type of a machine value for error messages.
func pyType(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case byteArray:
		return "bytearray"
	case *pyList:
		return "list"
	case pyTuple:
		return "tuple"
	case *pyDict:
		return "dict"
	case *pySet:
		if v.(*pySet).frozen {
			return "frozenset"
		}
		return "set"
	case pyGlobal:
		return "global"
	}
	return fmt.Sprintf("%T", v)
}
