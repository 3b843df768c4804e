//go:build runc_nodmz

package dmz

// stubBinary returns nil: the runc_nodmz build tag leaves the stub out.
func stubBinary() []byte { return nil }
