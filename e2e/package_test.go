package e2e

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The packages build/package.sh writes to dist/ are checked here, as a
// user's machine would see them. .ci/run builds them, installs the .deb
// and sets SLUICE_DIST (the dist folder) and SLUICE_INSTALLED (the
// installed binary); without SLUICE_DIST these tests skip.

// distDir returns SLUICE_DIST and the version wails.json names.
func distDir(t *testing.T) (dir, version string) {
	t.Helper()
	dir = os.Getenv("SLUICE_DIST")
	if dir == "" {
		t.Skip("skipping: SLUICE_DIST is not set (run build/package.sh, then SLUICE_DIST=$PWD/dist ./test.sh)")
	}
	b, err := os.ReadFile(filepath.Join("..", "wails.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"productVersion":\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("wails.json has no info.productVersion")
	}
	return dir, string(m[1])
}

// run runs a program and returns its output, failing the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func TestPackages(t *testing.T) {
	dist, version := distDir(t)
	names := []string{
		"sluice_" + version + "_amd64.deb",
		"sluice-" + version + "-linux-amd64.tar.gz",
		"sluice.exe",
		"sluice-" + version + "-windows-amd64-setup.exe",
		"sluice-" + version + "-darwin-amd64.tar.gz",
		"sluice-" + version + "-darwin-arm64.tar.gz",
		"Sluice-" + version + "-macos-app.tar.gz",
	}
	t.Run("SHA256SUMS", func(t *testing.T) {
		sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !strings.Contains(string(sums), "  "+n+"\n") {
				t.Errorf("SHA256SUMS has no line for %s:\n%s", n, sums)
			}
		}
		cmd := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
		cmd.Dir = dist
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v\n%s", err, out)
		}
	})

	t.Run("deb", func(t *testing.T) {
		requireTool(t, "dpkg-deb", "apt-get install dpkg")
		deb := filepath.Join(dist, names[0])
		info := run(t, "dpkg-deb", "--info", deb)
		mustContain(t, "dpkg-deb --info", info, "Package: sluice\n", "Version: "+version+"\n", "Architecture: amd64\n",
			"libgtk-3-0", "libwebkit2gtk-4.1-0", "libjavascriptcoregtk-4.1-0")
		contents := run(t, "dpkg-deb", "--contents", deb)
		want := []string{"-rwxr-xr-x root/root", " ./usr/bin/sluice\n", " ./usr/share/applications/sluice.desktop\n",
			" ./usr/share/icons/hicolor/scalable/apps/sluice.svg\n"}
		for _, size := range []string{"16", "22", "24", "32", "48", "64", "128", "256", "512"} {
			want = append(want, " ./usr/share/icons/hicolor/"+size+"x"+size+"/apps/sluice.png\n")
		}
		mustContain(t, "dpkg-deb --contents", contents, want...)

		root := t.TempDir()
		run(t, "dpkg-deb", "--extract", deb, root)
		validate := requireTool(t, "desktop-file-validate", "apt-get install desktop-file-utils")
		if out := run(t, validate, filepath.Join(root, "usr/share/applications/sluice.desktop")); out != "" {
			t.Errorf("desktop-file-validate: %s", out)
		}
		for _, size := range []string{"16", "48", "256", "512"} {
			png := filepath.Join(root, "usr/share/icons/hicolor", size+"x"+size, "apps/sluice.png")
			mustContain(t, "file "+png, run(t, "file", png), fmt.Sprintf("PNG image data, %s x %s", size, size))
		}
		mustContain(t, "sluice version from the .deb", run(t, filepath.Join(root, "usr/bin/sluice"), "version"),
			"sluice v"+version+" (commit ", ", built 20", "desktop build", "linux/amd64")
	})

	t.Run("windows", func(t *testing.T) {
		requireTool(t, "file", "apt-get install file")
		sevenZip := requireTool(t, "7z", "apt-get install p7zip-full")
		exe := filepath.Join(dist, "sluice.exe")
		mustContain(t, "file sluice.exe", run(t, "file", exe), "PE32+ executable (GUI) x86-64", "MS Windows")
		// The resources: the icon (each size and the group naming them),
		// the manifest and the version information.
		res := run(t, sevenZip, "l", exe)
		mustContain(t, "7z l sluice.exe", res, ".rsrc/0/GROUP_ICON/", ".rsrc/0/ICON/", "MANIFEST/1", "version.txt",
			"FileVersion: "+version+".0", "ProductVersion: "+version)
		manifest := run(t, sevenZip, "e", "-so", exe, ".rsrc/1033/MANIFEST/1")
		mustContain(t, "the manifest", manifest, `name="dev.sluice.desktop"`, "permonitorv2")

		setup := filepath.Join(dist, names[3])
		mustContain(t, "file "+names[3], run(t, "file", setup), "PE32 executable (GUI)", "Nullsoft Installer self-extracting archive")
		mustContain(t, "7z l "+names[3], run(t, sevenZip, "l", setup), " sluice.exe\n", " uninstall.exe\n", " icon.ico\n")
		// Per user, with a Start-menu entry and an uninstaller: what the
		// script asks of makensis.
		nsi, err := os.ReadFile(filepath.Join("..", "build", "windows", "installer", "project.nsi"))
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "project.nsi", string(nsi), `!define REQUEST_EXECUTION_LEVEL "user"`, `InstallDir "$LOCALAPPDATA\Programs\`,
			`CreateShortcut "$SMPROGRAMS\`, `WriteUninstaller "$INSTDIR\uninstall.exe"`, `WriteRegStr HKCU "${UNINSTALL_KEY}"`)
	})

	t.Run("tarballs", func(t *testing.T) {
		for _, arch := range []string{"linux-amd64", "darwin-amd64", "darwin-arm64"} {
			dir := t.TempDir()
			files := untar(t, filepath.Join(dist, "sluice-"+version+"-"+arch+".tar.gz"), dir)
			bin := filepath.Join(dir, "sluice-"+version+"-"+arch, "sluice")
			if !files["sluice-"+version+"-"+arch+"/sluice"] {
				t.Fatalf("the %s tarball has no sluice-%s-%s/sluice: %v", arch, version, arch, files)
			}
			desc := run(t, "file", bin)
			switch arch {
			case "linux-amd64":
				mustContain(t, "file", desc, "ELF 64-bit", "x86-64", "statically linked")
				mustContain(t, "sluice version", run(t, bin, "version"), "sluice v"+version, "headless build", "linux/amd64")
				if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "sluice serve") {
					t.Errorf("sluice --help = %v\n%s", err, out)
				}
			case "darwin-amd64":
				mustContain(t, "file", desc, "Mach-O 64-bit", "x86_64")
			case "darwin-arm64":
				mustContain(t, "file", desc, "Mach-O 64-bit", "arm64")
			}
		}
		dir := t.TempDir()
		files := untar(t, filepath.Join(dist, names[6]), dir)
		for _, f := range []string{"Sluice.app/Contents/Info.plist", "Sluice.app/Contents/Resources/iconfile.icns", "Sluice.app/Contents/MacOS/"} {
			if !files[f] {
				t.Errorf("the .app layout has no %s: %v", f, files)
			}
		}
		plist, _ := os.ReadFile(filepath.Join(dir, "Sluice.app/Contents/Info.plist"))
		mustContain(t, "Info.plist", string(plist), "<key>CFBundleExecutable</key>\n        <string>sluice</string>",
			"<string>dev.sluice.desktop</string>", "<key>CFBundleShortVersionString</key>\n        <string>"+version+"</string>",
			"<key>CFBundleIconFile</key>\n        <string>iconfile</string>")
		mustContain(t, "file iconfile.icns", run(t, "file", filepath.Join(dir, "Sluice.app/Contents/Resources/iconfile.icns")), "Mac OS X icon")
	})
}

// untar unpacks a .tar.gz into dir and returns the names it held.
func untar(t *testing.T, path, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names[h.Name] = true
		if h.Name != filepath.Clean(h.Name) && !strings.HasSuffix(h.Name, "/") || strings.HasPrefix(h.Name, "/") || strings.Contains(h.Name, "..") {
			t.Fatalf("%s holds a name that leaves its folder: %q", path, h.Name)
		}
		target := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode)&0o777)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

// TestInstalledPackage checks the installed .deb: sluice version from its
// path, and start at login written, valid and removed. The window smoke
// test runs the installed binary too (TestDesktopWindow).
func TestInstalledPackage(t *testing.T) {
	bin := os.Getenv("SLUICE_INSTALLED")
	if bin == "" {
		t.Skip("skipping: SLUICE_INSTALLED is not set (the path of an installed sluice)")
	}
	_, version := distDir(t)
	mustContain(t, bin+" version", run(t, bin, "version"), "sluice v"+version+" (commit ", "desktop build")
	if p, err := exec.LookPath("sluice"); err != nil || p != bin {
		t.Errorf("sluice on PATH = %q, %v; want %s", p, err, bin)
	}

	// Start at login, set from the command line as a user would.
	config, data := t.TempDir(), t.TempDir()
	sluice := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data", data)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+config)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sluice("settings", "set", "start_at_login", "true")
	entry := filepath.Join(config, "autostart", "sluice.desktop")
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatalf("no autostart entry after start_at_login true: %v", err)
	}
	mustContain(t, entry, string(b), "Exec="+bin+" --hidden --data "+data+"\n", "X-GNOME-Autostart-enabled=true\n")
	validate := requireTool(t, "desktop-file-validate", "apt-get install desktop-file-utils")
	if out := run(t, validate, entry); out != "" {
		t.Errorf("desktop-file-validate %s: %s", entry, out)
	}
	if out := sluice("settings"); !regexp.MustCompile(`(?m)^start_at_login\s+true$`).MatchString(out) {
		t.Errorf("sluice settings after start_at_login true:\n%s", out)
	}
	sluice("settings", "set", "start_at_login", "false")
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("the autostart entry is still there after start_at_login false: %v", err)
	}
	if out := sluice("settings"); !regexp.MustCompile(`(?m)^start_at_login\s+false$`).MatchString(out) {
		t.Errorf("sluice settings after start_at_login false:\n%s", out)
	}
}
