package fs

import "errors"

var errUnifiedOnV1 = errors.New("invalid linux.resources.unified: " +
	"cgroup v2 keys cannot be used on a cgroup v1 host")
