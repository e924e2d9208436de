package plan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// needSSHKeygen returns the ssh-keygen binary, or skips the test on a
// developer machine without it. In CI (CI=true) a missing ssh-keygen fails.
func needSSHKeygen(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ssh-keygen is needed for the interoperability tests (Debian: openssh-client): %v", err)
		}
		t.Skipf("ssh-keygen not found (Debian: apt-get install openssh-client): %v", err)
	}
	return path
}

// keygenKey makes a key with ssh-keygen and returns its private key file
// and a signer loaded from that file the way `rebind approve --key` does.
func keygenKey(t *testing.T, keygen, dir, name string, args ...string) (string, ssh.Signer) {
	t.Helper()
	path := filepath.Join(dir, name)
	out, err := exec.Command(keygen, append([]string{"-q", "-N", "", "-C", name, "-f", path}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

var keygenKinds = []struct {
	name string
	args []string
}{
	{"ed25519", []string{"-t", "ed25519"}},
	{"rsa", []string{"-t", "rsa", "-b", "2048"}},
	{"ecdsa", []string{"-t", "ecdsa", "-b", "256"}},
}

// TestSSHKeygenSignatureVerifies approves a plan with `ssh-keygen -Y sign`
// over the printed digest, as a reviewer without rebind would.
func TestSSHKeygenSignatureVerifies(t *testing.T) {
	keygen := needSSHKeygen(t)
	for _, kind := range keygenKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			p := samplePlan()
			var allowed strings.Builder
			for _, who := range []string{"alice", "bob"} {
				keyFile, s := keygenKey(t, keygen, dir, who, kind.args...)
				allowed.WriteString(who + " " + AuthorizedKey(s.PublicKey()) + "\n")
				cmd := exec.Command(keygen, "-Y", "sign", "-n", "rebind-plan", "-f", keyFile)
				cmd.Stdin = strings.NewReader(p.Digest())
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				sig, err := cmd.Output()
				if err != nil {
					t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, stderr.String())
				}
				if err := AddSignature(p, string(sig)); err != nil {
					t.Fatalf("AddSignature: %v", err)
				}
			}
			as, err := ParseAllowedSigners(strings.NewReader(allowed.String()), "allowed_signers")
			if err != nil {
				t.Fatal(err)
			}
			ap, err := Verify(p, as, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ap.Signers, ",") != "alice,bob" {
				t.Fatalf("signers %v", ap.Signers)
			}

			// ssh-keygen's signature over another plan is refused.
			other := samplePlan()
			other.Expires = other.Expires.Add(1)
			other.Signatures = p.Signatures
			if _, err := Verify(other, as, testNow); err == nil || !strings.Contains(err.Error(), "not over this plan's digest") {
				t.Fatalf("Verify(other) = %v", err)
			}
		})
	}
}

// TestRebindSignatureVerifiesWithSSHKeygen checks a rebind approval with
// `ssh-keygen -Y verify`, and that ssh-keygen refuses it for another
// digest or namespace.
func TestRebindSignatureVerifiesWithSSHKeygen(t *testing.T) {
	keygen := needSSHKeygen(t)
	for _, kind := range keygenKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			_, s := keygenKey(t, keygen, dir, "alice", kind.args...)
			p := samplePlan()
			sig, err := Sign(p, s, testNow)
			if err != nil {
				t.Fatal(err)
			}
			sigFile := filepath.Join(dir, "plan.sig")
			allowedFile := filepath.Join(dir, "allowed_signers")
			if err := os.WriteFile(sigFile, []byte(sig.Armored), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(allowedFile, []byte(`alice@corp.example.com namespaces="rebind-plan" `+sig.PublicKey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			verify := func(message, namespace string) (string, error) {
				cmd := exec.Command(keygen, "-Y", "verify", "-f", allowedFile, "-I", "alice@corp.example.com", "-n", namespace, "-s", sigFile)
				cmd.Stdin = strings.NewReader(message)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := verify(p.Digest(), "rebind-plan")
			if err != nil {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			if !strings.Contains(out, `Good "rebind-plan" signature for alice@corp.example.com`) {
				t.Fatalf("ssh-keygen -Y verify said %q", out)
			}
			if out, err := verify(p.Digest()+"0", "rebind-plan"); err == nil {
				t.Fatalf("ssh-keygen accepted another message: %s", out)
			}
			if out, err := verify(p.Digest(), "git"); err == nil {
				t.Fatalf("ssh-keygen accepted another namespace: %s", out)
			}
		})
	}
}

func TestArmorLayoutMatchesSSHKeygen(t *testing.T) {
	p := samplePlan()
	sig, err := Sign(p, newSigner(t, "rsa"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sig.Armored, "\n"), "\n")
	if lines[0] != armorBegin || lines[len(lines)-1] != armorEnd {
		t.Fatalf("armor lines: %q", lines)
	}
	for _, l := range lines[1 : len(lines)-2] {
		if len(l) != armorWidth {
			t.Fatalf("line of %d characters, want %d: %q", len(l), armorWidth, l)
		}
	}
}
