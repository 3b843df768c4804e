//go:build !runc_nodmz

package dmz

import (
	"bytes"
	"debug/elf"
	"embed"
)

// stubFS holds the stub binary the Makefile builds into stubbin/. The
// README there keeps the pattern matching when it was not built.
//
//go:embed stubbin
var stubFS embed.FS

// stubBinary returns the embedded stub, or nil when the build has none.
func stubBinary() []byte {
	data, err := stubFS.ReadFile("stubbin/towel-dmz")
	if err != nil || !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return nil
	}
	return data
}
