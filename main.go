// Command towel is an OCI runtime-spec 1.2.0 container runtime with runc
// 1.2's command line. Installed or linked as "runc", it names itself runc,
// so tools that parse its version and help keep working.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer/seccomp"
)

// version and gitCommit are set by the Makefile with -ldflags.
var (
	version   = "1.2.0"
	gitCommit = ""
)

// specVersion is the runtime-spec version towel implements.
const specVersion = "1.2.0"

const usage = `Open Container Initiative runtime

%[1]s is a command line client for running applications packaged according
to the Open Container Initiative (OCI) format and is a compliant
implementation of the Open Container Initiative specification.

Containers are configured using bundles. A bundle for a container is a
directory that includes a specification file named "config.json" and a
root filesystem. The root filesystem contains the contents of the
container.

To start a new instance of a container:

    # %[1]s run [ -b bundle ] <container-id>

Where "<container-id>" is your name for the instance of the container that
you are starting. The name you provide for the container instance must be
unique on your host. Providing the bundle directory using "-b" is optional.
The default value for "bundle" is the current directory.`

// progName is the name towel answers to: "runc" when started as runc.
func progName() string {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "runc") {
		return "runc"
	}
	return "towel"
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		initMain()
		return
	}

	app := cli.NewApp()
	app.Name = progName()
	app.Usage = fmt.Sprintf(usage, app.Name)

	v := []string{version}
	if gitCommit != "" {
		v = append(v, "commit: "+gitCommit)
	}
	v = append(v, "spec: "+specVersion, "go: "+runtime.Version())
	if lv := seccomp.Version(); lv != "" {
		v = append(v, "libseccomp: "+lv)
	}
	app.Version = strings.Join(v, "\n")

	root := "/run/towel"
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" && honorXDGRuntimeDir() {
		root = filepath.Join(xdg, "towel")
	}
	app.Flags = []cli.Flag{
		cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		cli.StringFlag{Name: "log", Value: "",
			Usage: "set the log file to write runc logs to (default is '/dev/stderr')"},
		cli.StringFlag{Name: "log-format", Value: "text",
			Usage: "set the log format ('text' (default), or 'json')"},
		cli.StringFlag{Name: "root", Value: root,
			Usage: "root directory for storage of container state (this should be located in tmpfs)"},
		cli.StringFlag{Name: "criu", Value: "criu",
			Usage: "(obsoleted; do not use)"},
		cli.BoolFlag{Name: "systemd-cgroup",
			Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\""},
		cli.StringFlag{Name: "rootless", Value: "auto",
			Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
	}
	app.Commands = []cli.Command{
		checkpointCommand,
		createCommand,
		deleteCommand,
		eventsCommand,
		execCommand,
		killCommand,
		listCommand,
		pauseCommand,
		psCommand,
		restoreCommand,
		resumeCommand,
		runCommand,
		specCommand,
		startCommand,
		stateCommand,
		updateCommand,
		featuresCommand,
	}
	app.Before = func(ctx *cli.Context) error {
		if ctx.GlobalIsSet("criu") {
			logrus.Warn("--criu is ignored (criu binary from $PATH is used); do not set it")
		}
		return configureLogging(ctx)
	}
	cli.ErrWriter = &fatalWriter{cli.ErrWriter}
	if err := app.Run(os.Args); err != nil {
		fatal(err)
	}
}

// configureLogging points logrus at --log in --log-format.
func configureLogging(ctx *cli.Context) error {
	if ctx.GlobalBool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	if path := ctx.GlobalString("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|
			os.O_SYNC, 0o644)
		if err != nil {
			return err
		}
		logrus.SetOutput(f)
	}
	switch f := ctx.GlobalString("log-format"); f {
	case "text":
		// the default
	case "json":
		logrus.SetFormatter(new(logrus.JSONFormatter))
	default:
		return errors.New("invalid log-format: " + f)
	}
	return nil
}

// logsToStderr reports whether logrus already writes to stderr.
func logsToStderr() bool {
	f, ok := logrus.StandardLogger().Out.(*os.File)
	return ok && f.Fd() == os.Stderr.Fd()
}

// fatal logs err, prints it on stderr if the log goes elsewhere, and
// exits 1.
func fatal(err error) {
	fatalWithCode(err, 1)
}

func fatalWithCode(err error, code int) {
	logrus.Error(err)
	if !logsToStderr() {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// fatalWriter sends cli's own error messages through the logger too.
type fatalWriter struct {
	cliErrWriter io.Writer
}

func (f *fatalWriter) Write(p []byte) (int, error) {
	logrus.Error(string(p))
	if !logsToStderr() {
		return f.cliErrWriter.Write(p)
	}
	return len(p), nil
}
