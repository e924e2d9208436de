package plan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostilePlan is samplePlan with markup where a reviewer's browser would
// run it if it were not escaped.
func hostilePlan() *Plan {
	p := samplePlan()
	p.Runbook.Title = `Re-bind <script>document.title="pwned"</script> a user`
	p.Steps[2].Instances[0].Notes = []string{`<img src="http://evil.example/x.png" onerror="alert(1)">`}
	return p
}

func TestRenderHTMLEscapesAndLoadsNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderHTML(&buf, hostilePlan(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script", "<img", `src="`, "href=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "Content-Security-Policy", "sha256:" + hostilePlan().Digest()} {
		if !strings.Contains(out, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Irreversible changes come before the changes.
	if i, j := strings.Index(out, `id="irreversible"`), strings.Index(out, `id="changes"`); i < 0 || j < i {
		t.Errorf("irreversible section at %d, changes at %d", i, j)
	}
}

func TestRenderHTMLRedacts(t *testing.T) {
	var buf bytes.Buffer
	p := samplePlan()
	if err := RenderHTML(&buf, p, RenderOptions{Redact: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "alice.smith") || !strings.Contains(buf.String(), p.Digest()) {
		t.Error("the redacted page shows a UPN, or not the plan's digest")
	}
}

// domText is how Chromium's --dump-dom serializes s in a text node.
func domText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestRenderHTMLInChromium opens the page in headless Chromium (Debian
// package chromium), checks that the rendered DOM shows every change and
// no script ran, and keeps a screenshot under testdata/artifacts/.
func TestRenderHTMLInChromium(t *testing.T) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is needed to check the HTML plan (Debian: apt-get install -y chromium)")
		}
		t.Skip("chromium not found (Debian: apt-get install -y chromium)")
	}
	p := hostilePlan()
	alice := fixedSigner(t, 1)
	if _, err := Sign(p, alice, testNow); err != nil {
		t.Fatal(err)
	}
	p.Signatures[0].Signer = "alice@corp.example.com"

	dir := t.TempDir()
	page := filepath.Join(dir, "plan.html")
	var buf bytes.Buffer
	if err := RenderHTML(&buf, p, RenderOptions{PlanFile: "restore.plan", Approval: verifiedBy(t, p, alice)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	artifacts, err := filepath.Abs(filepath.Join("testdata", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, "plan.html"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "plan.png")
	os.Remove(shot)

	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
		cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	url := "file://" + page
	dom := run("--dump-dom", url)
	if !strings.Contains(dom, `id="changes"`) {
		t.Fatalf("chromium did not render the page:\n%s", dom)
	}
	for _, s := range p.Steps {
		for _, in := range s.Instances {
			if !strings.Contains(dom, domText(in.Address)) {
				t.Errorf("the rendered page does not show %s", in.Address)
			}
			if in.Object != "" && !strings.Contains(dom, domText(in.Object)) {
				t.Errorf("the rendered page does not show object %s", in.Object)
			}
		}
		if s.IrreversibleReason != "" && !strings.Contains(dom, domText(s.IrreversibleReason)) {
			t.Errorf("the rendered page does not show why %s is irreversible", s.Address)
		}
	}
	for _, perm := range p.Permissions {
		if !strings.Contains(dom, domText(perm)) {
			t.Errorf("the rendered page does not show permission %q", perm)
		}
	}
	if !strings.Contains(dom, "alice@corp.example.com") || !strings.Contains(dom, p.Digest()) {
		t.Error("the rendered page does not show the approval or the digest")
	}
	if strings.Contains(dom, "pwned") && !strings.Contains(dom, domText(`<script>document.title="pwned"</script>`)) {
		t.Error("a script from the plan ran in the page")
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<img") {
		t.Error("plan text became markup in the page")
	}

	run("--screenshot="+shot, "--window-size=1200,1600", "--hide-scrollbars", url)
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
