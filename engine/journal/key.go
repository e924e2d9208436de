package journal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the state directory's secret key, beside the journal.
const KeyFileName = "state.key"

// keySize is the key's length in bytes (HMAC-SHA256's block of security).
const keySize = 32

// StateKey returns the state directory's secret key, making it (0600, in a
// directory made 0700) on first use. rebind keys the fingerprints and
// labels of sensitive values with it, so that a plan or journal record
// shows that a secret changed without offering a plain hash of it to
// guess against. Two processes making it at once agree: the file is
// created exclusively and whoever loses reads the winner's.
func StateKey(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: state key: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("journal: state key: %w", err)
	}
	path := filepath.Join(abs, KeyFileName)
	for range 2 {
		b, err := os.ReadFile(path)
		switch {
		case err == nil && len(b) == keySize:
			return b, nil
		case err == nil:
			return nil, fmt.Errorf("journal: state key %s holds %d bytes, not %d; it was damaged, and plans keyed with it can no longer be checked", path, len(b), keySize)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("journal: state key: %w", err)
		}
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("journal: state key: %w", err)
		}
		f, err := os.CreateTemp(abs, KeyFileName+".*")
		if err != nil {
			return nil, fmt.Errorf("journal: state key: %w", err)
		}
		tmp := f.Name()
		_, werr := f.Write(key)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return nil, fmt.Errorf("journal: state key: %w", err)
		}
		// A hard link fails when the key exists: the first one made wins.
		err = os.Link(tmp, path)
		os.Remove(tmp)
		if err == nil {
			if err := syncDir(abs); err != nil {
				return nil, fmt.Errorf("journal: state key: %w", err)
			}
			return key, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("journal: state key: %w", err)
		}
	}
	return nil, fmt.Errorf("journal: state key %s: could not be read or made", path)
}
