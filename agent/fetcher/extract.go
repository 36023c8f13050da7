package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
)

// extract unpacks the sandbox file name into the sandbox when its name says
// it is an archive, as Mesos does: .tar, .tar.gz/.tgz, .tar.bz2/.tbz2,
// .tar.xz/.txz and .zip are unpacked into the sandbox's top directory; a
// plain .gz is gunzipped beside itself. The archive stays. Other files are
// left as they are. Entries are written through root, so none lands
// outside the sandbox.
func extract(root *os.Root, name string) error {
	lower := strings.ToLower(name)
	has := func(exts ...string) bool {
		for _, e := range exts {
			if strings.HasSuffix(lower, e) {
				return true
			}
		}
		return false
	}
	switch {
	case has(".tar"):
		return withFile(root, name, func(r io.Reader) error { return untar(root, r) })
	case has(".tar.gz", ".tgz"):
		return withFile(root, name, func(r io.Reader) error {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return fmt.Errorf("not gzip data: %w", err)
			}
			return untar(root, zr)
		})
	case has(".tar.bz2", ".tbz2"):
		return withFile(root, name, func(r io.Reader) error { return untar(root, bzip2.NewReader(r)) })
	case has(".tar.xz", ".txz"):
		return withFile(root, name, func(r io.Reader) error {
			xr, err := xz.NewReader(r)
			if err != nil {
				return fmt.Errorf("not xz data: %w", err)
			}
			return untar(root, xr)
		})
	case has(".gz"):
		return withFile(root, name, func(r io.Reader) error {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return fmt.Errorf("not gzip data: %w", err)
			}
			return writeFile(root, name[:len(name)-len(".gz")], zr, 0o644)
		})
	case has(".zip"):
		return unzip(root, name)
	}
	return nil
}

func withFile(root *os.Root, name string, fn func(io.Reader) error) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// entryName checks an archive entry's name: relative, inside the sandbox.
func entryName(n string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(n, "./"))
	if n == "" || path.IsAbs(n) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("archive entry %q points outside the sandbox", n)
	}
	return clean, nil
}

func untar(root *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tar archive: %w", err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(root, name, tr, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := mkParent(root, name); err != nil {
				return err
			}
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("creating the link %q: %w", name, err)
			}
		case tar.TypeLink:
			target, err := entryName(h.Linkname)
			if err != nil {
				return err
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("creating the link %q: %w", name, err)
			}
		default:
			// Devices, fifos and the like are not a sandbox's business.
		}
	}
}

func unzip(root *os.Root, name string) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("reading the zip archive: %w", err)
	}
	for _, e := range zr.File {
		n, err := entryName(e.Name)
		if err != nil {
			return err
		}
		if n == "." {
			continue
		}
		if e.FileInfo().IsDir() {
			if err := root.MkdirAll(n, 0o755); err != nil {
				return err
			}
			continue
		}
		if !e.Mode().IsRegular() {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return fmt.Errorf("reading %q from the zip archive: %w", e.Name, err)
		}
		mode := e.Mode().Perm()
		if mode == 0 {
			mode = 0o644
		}
		err = writeFile(root, n, rc, mode)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		return root.MkdirAll(dir, 0o755)
	}
	return nil
}

// writeFile writes r to the sandbox file name with mode, replacing it.
func writeFile(root *os.Root, name string, r io.Reader, mode fs.FileMode) error {
	if err := mkParent(root, name); err != nil {
		return err
	}
	_ = root.Remove(name) // never write through an earlier entry's symlink
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("creating %q: %w", name, err)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("writing %q: %w", name, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %q: %w", name, err)
	}
	return root.Chmod(name, mode)
}
