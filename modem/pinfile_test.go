package modem

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pinFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes the umask
		t.Fatal(err)
	}
	return path
}

func TestReadPINFile(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error  // errors.Is target, when set
		msg     string // substring of the error, when set
	}{
		{"trimmed", pinFile(t, " 1234\n", 0o600), "1234", nil, ""},
		{"group readable is fine", pinFile(t, "87654321", 0o640), "87654321", nil, ""},
		{"world readable", pinFile(t, "1234\n", 0o644), "", ErrInsecurePINFile, "chmod 600"},
		{"missing file", filepath.Join(t.TempDir(), "nope"), "", fs.ErrNotExist, "modem.pin_file"},
		{"garbage", pinFile(t, "12ab\n", 0o600), "", nil, "4 to 8 digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadPINFile(tc.path)
			if tc.wantErr == nil && tc.msg == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ReadPINFile = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadPINFile = %q, want an error", got)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if got != "" {
				t.Errorf("ReadPINFile returned %q with an error", got)
			}
		})
	}
}
