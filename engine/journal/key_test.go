package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestStateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	// Made at once by several processes' worth of callers, the key is one.
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := StateKey(dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != keySize || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys differ: %x vs %x", k, keys[0])
		}
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the state directory holds %d files after making the key, want only the key", len(entries))
	}
	again, err := StateKey(dir)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("the key changed when read again: %v", err)
	}
	// A damaged key is an error, never silently replaced: plans keyed
	// with it could no longer be checked.
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := StateKey(dir); err == nil {
		t.Error("a damaged key was accepted")
	}
}
