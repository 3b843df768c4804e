package libcontainer

// initBinary is the executable `towel init` is started from.
type initBinary struct {
	path  string
	close func() error
}

// Close releases what keeps the binary available.
func (b *initBinary) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

// initExecutable returns the binary to start init from.
//
// TODO: this is the host binary itself, which a container process could
// reach through /proc/PID/exe while init runs; the protected copy comes
// with the hardening work.
func initExecutable() (*initBinary, error) {
	return &initBinary{path: "/proc/self/exe"}, nil
}
