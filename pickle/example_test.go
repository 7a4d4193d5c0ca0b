package pickle_test

import (
	"encoding/json"
	"fmt"

	"github.com/wsgiproxy/wsgiproxy-go/pickle"
)

func ExampleUnmarshal() {
	// Python 3: pickle.dumps({'user': 'bob', 'ids': (1, 2**70)}, protocol=2)
	data := []byte("\x80\x02}q\x00(X\x04\x00\x00\x00userq\x01X\x03\x00\x00\x00bobq\x02X\x03\x00\x00\x00idsq\x03K\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x86q\x04u.")
	v, err := pickle.Unmarshal(data, 64<<10)
	if err != nil {
		fmt.Println(err)
		return
	}
	text, _ := json.Marshal(v)
	fmt.Println(string(text))

	// Python 3: pickle.dumps(os.system, protocol=4)
	_, err = pickle.Unmarshal([]byte("\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."), 64<<10)
	fmt.Println(err)
	// Output:
	// {"ids":[1,1180591620717411303424],"user":"bob"}
	// pickle: refused: names a global "posix system"
}

func ExampleMarshal() {
	data, err := pickle.Marshal(map[string]any{
		"wsgi.version": pickle.Tuple{1, 0},
		"tags":         pickle.Set{"a"},
		"raw":          []byte{0, 255},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Python 2 and 3 load it with pickle.loads(data):
	// {'raw': b'\x00\xff', 'tags': {'a'}, 'wsgi.version': (1, 0)}
	v, _ := pickle.Unmarshal(data, len(data))
	fmt.Printf("%v\n", v)
	// Output:
	// map[raw:[0 255] tags:[a] wsgi.version:[1 0]]
}
