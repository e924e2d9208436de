package runbook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hashicorp/hcl/v2"
)

// Sizes rebind reads. HCL's lexer and parser keep about 500 bytes per
// token and per diagnostic, so a 1 MiB file of commas took 450 MB; a
// runbook is code, and the largest bundled one is 10 KB, so its files are
// capped where the densest input stays under 150 MB. Variable files and
// file() read data (a tenant's mailbox export, say), which can be large:
// they are capped only so that a device or a runaway file (/dev/zero)
// cannot make rebind read forever.
const (
	// MaxRunbookSize is the most a runbook's files may hold together.
	MaxRunbookSize = 256 << 10
	// MaxDataFileSize is the largest variable file or file() that rebind
	// reads.
	MaxDataFileSize = 16 << 20
)

// ErrTooLarge is wrapped by ReadFile's error for a file over its limit.
var ErrTooLarge = errors.New("too large")

// ReadFile reads the file at path, at most max bytes: a larger one is an
// error wrapping ErrTooLarge, and is read no further than max+1 bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, max)
}

// readFS is ReadFile for a file in fsys.
func readFS(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, name, max)
}

func readLimited(r io.Reader, name string, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is %w: rebind reads at most %s", name, ErrTooLarge, sizeText(max))
	}
	return b, nil
}

// sizeText is a byte count for people: 256 KiB, 16 MiB.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkSize refuses sources that hold more than MaxRunbookSize together.
func checkSize(sources map[string][]byte, names []string) hcl.Diagnostics {
	total := 0
	for _, n := range names {
		total += len(sources[n])
	}
	if total <= MaxRunbookSize {
		return nil
	}
	name := names[0]
	for _, n := range names {
		if len(sources[n]) > len(sources[name]) {
			name = n
		}
	}
	return fileError(name, "Runbook too large", fmt.Sprintf("The runbook's files hold %d bytes; rebind reads runbooks of at most %s. A runbook is code: data belongs in a variable file or a file() it reads.", total, sizeText(MaxRunbookSize)))
}
