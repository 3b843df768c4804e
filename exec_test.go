package main

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"
)

// execContext parses args as `exec` would see them. Without cli's own
// Command.Run, a string flag is only seen under the name it was given by,
// so the tests use the long names.
func execContext(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	set := flag.NewFlagSet("exec", flag.ContinueOnError)
	for _, f := range execCommand.Flags {
		f.Apply(set)
	}
	if err := set.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	app := cli.NewApp()
	ctx := cli.NewContext(app, set, nil)
	ctx.Command = execCommand
	return ctx
}

func baseProcess() *specs.Process {
	return &specs.Process{
		User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{10}},
		Args: []string{"sleep", "1000"},
		Env:  []string{"PATH=/bin", "A=config"},
		Cwd:  "/",
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  []string{"CAP_KILL"},
			Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"},
		},
		Rlimits: []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 512},
		},
		NoNewPrivileges: true,
		ApparmorProfile: "container-default",
	}
}

func TestExecSpecTakesTheContainerDefaults(t *testing.T) {
	base := baseProcess()
	p, err := execSpec(execContext(t, "ct", "sh", "-c", "true"), base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Args, []string{"sh", "-c", "true"}) {
		t.Errorf("args = %q", p.Args)
	}
	if !reflect.DeepEqual(p.Env, base.Env) || p.Cwd != "/" ||
		!reflect.DeepEqual(p.Rlimits, base.Rlimits) ||
		!p.NoNewPrivileges || p.ApparmorProfile != "container-default" ||
		!reflect.DeepEqual(p.Capabilities, base.Capabilities) {
		t.Errorf("exec process %+v does not keep the defaults %+v", p, base)
	}
	if p.Terminal {
		t.Error("terminal set without --tty")
	}
}

func TestExecSpecFlagsOverrideDefaults(t *testing.T) {
	base := baseProcess()
	ctx := execContext(t, "--env", "A=flag", "--env", "B=2", "--cwd", "/tmp",
		"--user", "1000:100", "-g", "5", "--cap", "sys_admin", "--tty",
		"--no-new-privs=false", "--umask", "027", "--apparmor", "other",
		"--process-label", "label", "ct", "true")
	p, err := execSpec(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "A=flag", "B=2"}; !reflect.DeepEqual(p.Env, want) {
		t.Errorf("env = %q, want %q", p.Env, want)
	}
	if p.Cwd != "/tmp" || p.User.UID != 1000 || p.User.GID != 100 {
		t.Errorf("cwd %q, user %+v", p.Cwd, p.User)
	}
	if want := []uint32{10, 5}; !reflect.DeepEqual(p.User.AdditionalGids, want) {
		t.Errorf("additional gids = %v, want %v", p.User.AdditionalGids, want)
	}
	for name, set := range map[string][]string{
		"bounding":  p.Capabilities.Bounding,
		"effective": p.Capabilities.Effective,
		"permitted": p.Capabilities.Permitted,
	} {
		if !reflect.DeepEqual(set, []string{"CAP_KILL", "CAP_SYS_ADMIN"}) {
			t.Errorf("%s = %q", name, set)
		}
	}
	if len(p.Capabilities.Ambient) != 0 {
		t.Errorf("ambient %q set without inheritable capabilities",
			p.Capabilities.Ambient)
	}
	if !p.Terminal || p.NoNewPrivileges || p.ApparmorProfile != "other" ||
		p.SelinuxLabel != "label" {
		t.Errorf("process %+v", p)
	}
	if p.User.Umask == nil || *p.User.Umask != 0o27 {
		t.Errorf("umask = %v", p.User.Umask)
	}

	// The container's own process is left as it was.
	if !reflect.DeepEqual(base, baseProcess()) {
		t.Errorf("exec changed the container's process: %+v", base)
	}
}

func TestExecSpecRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{"ct"}, "args cannot be empty"},
		{"bad uid", []string{"--user", "root", "ct", "true"}, "invalid --user"},
		{"bad gid", []string{"--user", "0:wheel", "ct", "true"}, "invalid --user"},
		{"negative gid", []string{"-g", "-1", "ct", "true"}, "additional-gids"},
		{"bad umask", []string{"--umask", "8", "ct", "true"}, "invalid --umask"},
		{"relative cwd", []string{"--cwd", "tmp", "ct", "true"}, "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := execSpec(execContext(t, tc.args...), baseProcess())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReadProcessFileFillsInTheContainerDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	err := os.WriteFile(path, []byte(`{"args": ["true"], "cwd": "/",
		"env": ["PATH=/bin"], "user": {"uid": 5, "gid": 6}}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	base := baseProcess()
	p, err := readProcessFile(path, base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Capabilities, base.Capabilities) ||
		!reflect.DeepEqual(p.Rlimits, base.Rlimits) ||
		p.ApparmorProfile != base.ApparmorProfile {
		t.Errorf("process %+v lacks the container's defaults", p)
	}
	// noNewPrivileges is a plain bool in the file: it is taken as is.
	if p.NoNewPrivileges {
		t.Error("noNewPrivileges taken from the container")
	}
	if !reflect.DeepEqual(p.Env, []string{"PATH=/bin"}) || p.User.UID != 5 {
		t.Errorf("process %+v is not the file's", p)
	}
}

func TestReadProcessFileRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not JSON":     `{"args": ["true"`,
		"no args":      `{"cwd": "/"}`,
		"relative cwd": `{"args": ["true"], "cwd": "tmp"}`,
		"no cwd":       `{"args": ["true"]}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readProcessFile(path, baseProcess()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := readProcessFile(filepath.Join(dir, "missing"),
		baseProcess()); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseSubCgroups(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want map[string]string
		bad  bool
	}{
		{in: nil, want: nil},
		{in: []string{"sub"}, want: map[string]string{"": "sub"}},
		{in: []string{"memory:a/b"}, want: map[string]string{"memory": "a/b"}},
		{in: []string{"cpu,cpuacct:x", "pids:y"},
			want: map[string]string{"cpu": "x", "cpuacct": "x", "pids": "y"}},
		{in: []string{"sub", "memory:x"}, bad: true},
		{in: []string{"memory:"}, bad: true},
		{in: []string{"memory:a:b"}, bad: true},
		{in: []string{"memory:a", "memory:b"}, bad: true},
	} {
		got, err := parseSubCgroups(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestMergeEnvKeepsTheLastValueInTheFirstPlace(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2"}, []string{"C=3", "A=4", "C=5"})
	want := []string{"A=4", "B=2", "C=5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestAddCapsSetsAmbientOnlyWithInheritable(t *testing.T) {
	p := &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Inheritable: []string{"CAP_KILL"},
	}}
	addCaps(p, []string{"CAP_NET_RAW"})
	if !reflect.DeepEqual(p.Capabilities.Ambient, []string{"CAP_NET_RAW"}) {
		t.Errorf("ambient = %q", p.Capabilities.Ambient)
	}

	p = &specs.Process{}
	addCaps(p, []string{"net_raw"})
	if !reflect.DeepEqual(p.Capabilities.Bounding, []string{"CAP_NET_RAW"}) {
		t.Errorf("bounding = %q", p.Capabilities.Bounding)
	}
}

func TestUniq(t *testing.T) {
	if got := uniq([]int64{5, 5, 7, 5}); !reflect.DeepEqual(got, []int64{5, 7}) {
		t.Errorf("uniq = %v", got)
	}
}
