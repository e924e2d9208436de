package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"

	"github.com/rebind-dev/rebind/engine/approval"
	"github.com/rebind-dev/rebind/engine/plan"
)

type approveOptions struct {
	IO             *IO
	Path           string
	KeyFile        string
	SignatureFile  string
	From           []string
	AllowedSigners string
	Now            func() time.Time
	// Passphrase asks for a key's passphrase; nil reads it from the
	// terminal.
	Passphrase func(keyFile string) ([]byte, error)
}

func newApproveCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &approveOptions{IO: ios, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "approve PLAN (--key SSH_KEY | --signature FILE | --from COPY...) [--allowed-signers FILE]",
		Short: "Approve a saved plan with your SSH key",
		Long: `approve signs the plan's digest with an SSH key and adds the signature to
the plan file. The signature is the kind 'ssh-keygen -Y sign' makes, in the
namespace rebind-plan, over the digest's 64 hex characters; a reviewer
without rebind can make one and add it with --signature:

  printf %s DIGEST | ssh-keygen -Y sign -n rebind-plan -f ~/.ssh/id_ed25519 > plan.sig
  rebind approve PLAN --signature plan.sig

--key takes a private key file (ed25519, ECDSA or RSA; asks for its
passphrase on a terminal), or a public key file whose private key is in
ssh-agent. With --allowed-signers (or REBIND_ALLOWED_SIGNERS), approve
refuses a key the file does not list and says how many approvals the plan
now has. The plan's author cannot approve it.

When reviewers each signed their own copy of the plan file, --from COPY
(repeatable) brings their signatures into PLAN: every copy must have PLAN's
digest, and every signature is checked as one given with --signature.`,
	}
	takesArg(cmd, &opts.Path, func() error { return runApprove(opts) })
	cmd.Flags().StringVar(&opts.KeyFile, "key", "", "sign with this SSH private key (or public key held by ssh-agent)")
	cmd.Flags().StringVar(&opts.SignatureFile, "signature", "", "add this signature made with ssh-keygen -Y sign -n rebind-plan")
	cmd.Flags().StringArrayVar(&opts.From, "from", nil, "add the signatures of this signed copy of the same plan (repeatable)")
	cmd.Flags().StringVar(&opts.AllowedSigners, "allowed-signers", "", "check the signer against this allowed-signers file (env REBIND_ALLOWED_SIGNERS)")
	return cmd
}

func runApprove(opts *approveOptions) error {
	modes := 0
	for _, given := range []bool{opts.KeyFile != "", opts.SignatureFile != "", len(opts.From) > 0} {
		if given {
			modes++
		}
	}
	if modes != 1 {
		return usageError{errors.New("give one of --key SSH_KEY, --signature FILE or --from COPY")}
	}
	p, err := plan.Read(opts.Path)
	if err != nil {
		return err
	}
	// A reviewer signs what rebind made, never a plan file edited since.
	if _, err := approval.Consistent(p); err != nil {
		return fmt.Errorf("%s not approved: %w", opts.Path, err)
	}
	now := opts.Now()
	if now.After(p.Expires) {
		return fmt.Errorf("the plan expired at %s; approve a new one", p.Expires.Format(time.RFC3339))
	}
	allowed, err := loadAllowedSigners(opts.AllowedSigners)
	if err != nil {
		return err
	}
	if len(opts.From) > 0 {
		return mergeApprovals(opts, p, allowed, now)
	}

	var key ssh.PublicKey
	var signer ssh.Signer
	var armored string
	if opts.KeyFile != "" {
		signer, err = loadSigner(opts.IO, opts.KeyFile, opts.Passphrase)
		if err != nil {
			return err
		}
		key = signer.PublicKey()
	} else {
		b, err := os.ReadFile(opts.SignatureFile)
		if err != nil {
			return err
		}
		armored = string(b)
		if key, err = plan.SignatureKey(armored); err != nil {
			return err
		}
	}

	// Refuse an unlisted key or the author's before touching the plan.
	who := ""
	if allowed != nil {
		e, err := plan.CheckSigner(p, allowed, key, now)
		if err != nil {
			return err
		}
		who = e.Principal()
	}
	if signer != nil {
		if _, err := plan.Sign(p, signer, now); err != nil {
			return err
		}
	} else if err := plan.AddSignature(p, armored); err != nil {
		return err
	}
	for i := range p.Signatures {
		if p.Signatures[i].PublicKey == plan.AuthorizedKey(key) {
			p.Signatures[i].Signer = who
		}
	}
	if err := p.Write(opts.Path); err != nil {
		return err
	}

	out := opts.IO.Out
	name := who
	if name == "" {
		name = "an unverified signer"
	}
	fmt.Fprintf(out, "Approved %s (sha256:%s) as %s, key %s %s.\n", safe(opts.Path), p.Digest(), safe(name), keyKind(key), ssh.FingerprintSHA256(key))
	reportApprovals(opts, p, allowed, now)
	return nil
}

// mergeApprovals brings the signatures of the copies opts.From into p and
// writes it; with an allowed-signers file, a signer it does not list (or
// the author) stops the merge before anything is written.
func mergeApprovals(opts *approveOptions, p *plan.Plan, allowed *plan.AllowedSigners, now time.Time) error {
	var added []ssh.PublicKey
	for _, f := range opts.From {
		other, err := plan.Read(f)
		if err != nil {
			return err
		}
		keys, err := plan.MergeSignatures(p, other)
		if err != nil {
			return fmt.Errorf("--from %s: %w", f, err)
		}
		added = append(added, keys...)
	}
	out := opts.IO.Out
	for _, key := range added {
		who := "an unverified signer"
		if allowed != nil {
			e, err := plan.CheckSigner(p, allowed, key, now)
			if err != nil {
				return fmt.Errorf("%s not written: %w", opts.Path, err)
			}
			who = e.Principal()
			for i := range p.Signatures {
				if p.Signatures[i].PublicKey == plan.AuthorizedKey(key) {
					p.Signatures[i].Signer = who
				}
			}
		}
		fmt.Fprintf(out, "Added the approval of %s, key %s %s.\n", safe(who), keyKind(key), ssh.FingerprintSHA256(key))
	}
	if len(added) == 0 {
		fmt.Fprintf(out, "%s already holds every signature of %s.\n", safe(opts.Path), safe(strings.Join(opts.From, ", ")))
	} else if err := p.Write(opts.Path); err != nil {
		return err
	}
	reportApprovals(opts, p, allowed, now)
	return nil
}

// reportApprovals says how many approvals p has and needs.
func reportApprovals(opts *approveOptions, p *plan.Plan, allowed *plan.AllowedSigners, now time.Time) {
	out := opts.IO.Out
	need := p.RequiredApprovals()
	if allowed == nil {
		fmt.Fprintf(out, "The plan carries %d signature%s and needs %d approval%s; give --allowed-signers FILE (or set REBIND_ALLOWED_SIGNERS) to count them.\n",
			len(p.Signatures), plural(len(p.Signatures)), need, plural(need))
		return
	}
	ap, err := plan.Verify(p, allowed, now)
	fmt.Fprintf(out, "Approvals: %d of %d (%s).\n", len(ap.Signers), need, safe(strings.Join(ap.Signers, ", ")))
	switch {
	case err == nil:
		fmt.Fprintf(out, "The plan has the approvals it needs: rebind apply %s\n", opts.Path)
	case approval.OnlyTooFew(err):
		fmt.Fprintf(out, "It needs %d more.\n", need-len(ap.Signers))
	default:
		fmt.Fprintf(opts.IO.Err, "warning: other signatures on the plan do not hold:\n%s\n", indentErr(err))
	}
}

// loadAllowedSigners reads the allowed-signers file named by path, or by
// REBIND_ALLOWED_SIGNERS when path is empty; nil when neither is set.
func loadAllowedSigners(path string) (*plan.AllowedSigners, error) {
	if path == "" {
		path = os.Getenv("REBIND_ALLOWED_SIGNERS")
	}
	if path == "" {
		return nil, nil
	}
	return plan.ReadAllowedSigners(path)
}

// loadSigner reads an SSH key file for signing: a private key, asking for
// its passphrase with ask (nil: on the terminal) when it has one, or a
// public key whose private half ssh-agent holds. plan --key can use it to
// record the author's key.
func loadSigner(ios *IO, keyFile string, ask func(keyFile string) ([]byte, error)) (ssh.Signer, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	if pub, _, _, _, perr := ssh.ParseAuthorizedKey(b); perr == nil {
		return agentSigner(keyFile, pub)
	}
	s, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if ask == nil {
			ask = func(keyFile string) ([]byte, error) { return readPassphrase(ios, keyFile) }
		}
		pass, perr := ask(keyFile)
		if perr != nil {
			return nil, perr
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, pass)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w (a key rebind cannot read, such as a security key, can sign with ssh-keygen -Y sign -n rebind-plan; add that with --signature)", keyFile, err)
	}
	return s, nil
}

// readPassphrase asks for a key's passphrase on the terminal.
func readPassphrase(ios *IO, keyFile string) ([]byte, error) {
	f, ok := ios.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("--key %s has a passphrase and there is no terminal to ask it on; load the key into ssh-agent and give its .pub file", keyFile)
	}
	fmt.Fprintf(ios.Err, "Passphrase for %s: ", keyFile)
	pass, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(ios.Err)
	return pass, err
}

// agentSigner finds pub among ssh-agent's keys.
func agentSigner(keyFile string, pub ssh.PublicKey) (ssh.Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, fmt.Errorf("--key %s is a public key and SSH_AUTH_SOCK is not set: give the private key file, or start ssh-agent", keyFile)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	for _, s := range signers {
		if string(s.PublicKey().Marshal()) == string(pub.Marshal()) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("ssh-agent does not hold the key in %s (%s); ssh-add it first", keyFile, ssh.FingerprintSHA256(pub))
}

func keyKind(k ssh.PublicKey) string {
	switch t := k.Type(); {
	case t == ssh.KeyAlgoED25519:
		return "ED25519"
	case t == ssh.KeyAlgoRSA:
		return "RSA"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ECDSA"
	default:
		return t
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
