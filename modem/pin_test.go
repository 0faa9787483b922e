package modem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilePINStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "rejected")
	s := NewFilePINStore(path)
	if s.Rejected("1234") {
		t.Fatal("empty store rejects")
	}
	for _, pin := range []string{"1234", "87654321"} {
		if err := s.MarkRejected(pin); err != nil {
			t.Fatal(err)
		}
	}
	s2 := NewFilePINStore(path)
	if !s2.Rejected("1234") || !s2.Rejected("87654321") || s2.Rejected("4321") || s2.Rejected("") {
		t.Error("reload: wrong answers")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "1234") || strings.Contains(string(data), "87654321") {
		t.Errorf("PIN in clear in the store:\n%s", data)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

func TestFilePINStoreGarbageAndBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rejected")
	if err := os.WriteFile(path, []byte("v1 zz 00\n\x00\xffgarbage\nv1 00\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewFilePINStore(path)
	if s.Rejected("0000") {
		t.Error("garbage file rejects a PIN")
	}
	for i := range maxRejected + 2 {
		if err := s.MarkRejected(strings.Repeat(string(rune('0'+i%10)), 4) + string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if s.Rejected("0000a") || !s.Rejected("7777r") {
		t.Error("bound: oldest should be dropped, newest kept")
	}
}

func TestFilePINStoreUnreadableFailsSafe(t *testing.T) {
	dir := t.TempDir()
	// a directory where the file should be: reading fails with an error other than not-exist
	path := filepath.Join(dir, "rejected")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if !NewFilePINStore(path).Rejected("1234") {
		t.Error("unreadable store must answer rejected")
	}
}
