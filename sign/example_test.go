package sign_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/wsgiproxy/wsgiproxy-go/sign"
)

// A front signs the request it sends; the backend, holding the same
// secret file, checks it.
func Example() {
	dir, err := os.MkdirTemp("", "sign")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	secretFile := filepath.Join(dir, "secret") // as written by "wsgiproxy keygen --out FILE"
	if err := sign.WriteSecretFile(secretFile); err != nil {
		log.Fatal(err)
	}
	keys, err := sign.NewKeyring(secretFile)
	if err != nil {
		log.Fatal(err)
	}

	// The front.
	signer := &sign.Signer{Keys: keys}
	out, _ := http.NewRequest("GET", "http://backend:8080/app/page?x=1", nil)
	out.Header.Set("X-Forwarded-Host", "www.example.org")
	if err := signer.Sign(out); err != nil {
		log.Fatal(err)
	}
	var wire bytes.Buffer
	out.Write(&wire)

	// The backend.
	verifier := &sign.Verifier{Keys: keys}
	in, _ := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes())))
	fmt.Println(verifier.Verify(in))

	// The same request again is a replay; with a header added, it is
	// refused as well.
	in, _ = http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes())))
	fmt.Println(verifier.Verify(in))
	in, _ = http.ReadRequest(bufio.NewReader(bytes.NewReader(wire.Bytes())))
	in.Header.Set("X-Forwarded-For", "10.6.6.6")
	fmt.Println(verifier.Verify(in))
	// Output:
	// true <nil>
	// false sign: signature replayed
	// false sign: required component not signed: X-Forwarded-For
}
