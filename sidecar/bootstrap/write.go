package bootstrap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileMode is the only mode the sidecar writes: the files hold key material
// and may hold credentials. The worker container must therefore run as the
// same user as the bootstrap (the task definition's "user" can see to it).
const fileMode fs.FileMode = 0o600

// File is one file to place in the output directory.
type File struct {
	// Name is the file's base name inside the directory.
	Name string
	// Data is the file's whole content.
	Data []byte
}

// Written reports what happened to one file.
type Written struct {
	// Name is the file's base name.
	Name string
	// Path is the file's path: the directory joined with Name.
	Path string
	// Bytes is the file's size.
	Bytes int
	// Changed is false when the file already held exactly these bytes
	// (with mode 0600) and was left untouched.
	Changed bool
}

type staged struct {
	f       File
	path    string
	tmp     string
	old     []byte
	existed bool
}

// writeFiles places files in dir so that a reader never sees a partial
// file and a failure leaves dir as it was: every changed file is first
// written in full to a temporary file in dir and synced, and only then are
// the temporary files renamed over their targets. Files that already hold
// the same bytes with mode 0600 are not touched at all, so their mtime
// stays and a watcher sees no change.
func writeFiles(dir string, files []File) (written []Written, err error) {
	created, err := mkdirs(dir)
	var stage []*staged
	defer func() {
		if err == nil {
			return
		}
		for _, s := range stage {
			if s.tmp != "" {
				os.Remove(s.tmp)
			}
		}
		removeDirs(created)
	}()
	if err != nil {
		return nil, err
	}

	for _, f := range files {
		s := &staged{f: f, path: filepath.Join(dir, f.Name)}
		same, old, existed, err := sameContent(s.path, f.Data)
		if err != nil {
			return nil, err
		}
		s.old, s.existed = old, existed
		written = append(written, Written{Name: f.Name, Path: s.path, Bytes: len(f.Data), Changed: !same})
		if same {
			continue
		}
		if s.tmp, err = writeTemp(dir, f); err != nil {
			return nil, err
		}
		stage = append(stage, s)
	}
	if len(stage) == 0 {
		return written, nil
	}

	for i, s := range stage {
		if err := os.Rename(s.tmp, s.path); err != nil {
			rollback(dir, stage[:i])
			return nil, fmt.Errorf("rename %s: %w", s.path, err)
		}
		s.tmp = ""
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return written, nil
}

// mkdirs creates dir and whichever of its parents are missing, and returns
// those it created, outermost first, so that a failure can remove exactly
// them and leave the tree as it was.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		switch err := os.Mkdir(missing[i], 0o700); {
		case err == nil:
			created = append(created, missing[i])
		case !errors.Is(err, fs.ErrExist):
			return created, fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	return created, nil
}

// removeDirs removes directories mkdirs created, innermost first; one that
// is not empty (someone else wrote there meanwhile) stays.
func removeDirs(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		os.Remove(created[i])
	}
}

// sameContent reports whether path is a regular file with mode 0600 holding
// exactly want. It also returns the current bytes for a rollback.
func sameContent(path string, want []byte) (same bool, old []byte, existed bool, err error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil, false, nil
	}
	if err != nil {
		return false, nil, false, fmt.Errorf("inspect %s: %w", path, err)
	}
	if info.IsDir() {
		return false, nil, false, fmt.Errorf("%s: is a directory", path)
	}
	if !info.Mode().IsRegular() {
		return false, nil, true, nil
	}
	old, err = os.ReadFile(path)
	if err != nil {
		return false, nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return info.Mode().Perm() == fileMode && bytes.Equal(old, want), old, true, nil
}

func writeTemp(dir string, f File) (string, error) {
	t, err := os.CreateTemp(dir, "."+f.Name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	name := t.Name()
	fail := func(err error) (string, error) {
		t.Close()
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	if err := t.Chmod(fileMode); err != nil {
		return fail(err)
	}
	if _, err := t.Write(f.Data); err != nil {
		return fail(err)
	}
	if err := t.Sync(); err != nil {
		return fail(err)
	}
	if err := t.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, f.Name), err)
	}
	return name, nil
}

// rollback puts back what the already renamed files replaced. It is best
// effort: it runs only when a rename inside one directory failed, which
// leaves little else to trust.
func rollback(dir string, done []*staged) {
	for _, s := range done {
		if !s.existed {
			os.Remove(s.path)
			continue
		}
		if tmp, err := writeTemp(dir, File{Name: s.f.Name, Data: s.old}); err == nil {
			if os.Rename(tmp, s.path) != nil {
				os.Remove(tmp)
			}
		}
	}
	_ = syncDir(dir)
}

// syncDir makes the renames durable: without it a crash right after the
// task starts the worker could bring back the old directory entries.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
