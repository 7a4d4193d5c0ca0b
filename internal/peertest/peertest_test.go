package peertest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMissing runs itself as a child: it must skip the test, and fail it
// under CI=true, naming the peer either way.
func TestMissing(t *testing.T) {
	if os.Getenv("PEERTEST_CHILD") != "" {
		Missing(t, "a %s", "peer")
		return
	}
	for ci, want := range map[string]string{"": "--- SKIP", "true": "--- FAIL"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "PEERTEST_CHILD=1", "CI="+ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "a peer (bash scripts/install-test-deps.sh installs it)") {
			t.Errorf("CI=%q: want %q and the peer named, got:\n%s", ci, want, out)
		}
	}
}
