package devices

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The program's context is struct bpf_cgroup_dev_ctx
// (include/uapi/linux/bpf.h): u32 access_type, u32 major, u32 minor. The
// low 16 bits of access_type are the device type, the high 16 the access.
const (
	ctxAccessType = 0
	ctxMajor      = 4
	ctxMinor      = 8

	bpfDevBlock = 1 // BPF_DEVCG_DEV_BLOCK
	bpfDevChar  = 2 // BPF_DEVCG_DEV_CHAR

	bpfAccMknod = 1 // BPF_DEVCG_ACC_MKNOD
	bpfAccRead  = 2 // BPF_DEVCG_ACC_READ
	bpfAccWrite = 4 // BPF_DEVCG_ACC_WRITE
)

func bpfAccess(a Access) int32 {
	var v int32
	if a&Mknod != 0 {
		v |= bpfAccMknod
	}
	if a&Read != 0 {
		v |= bpfAccRead
	}
	if a&Write != 0 {
		v |= bpfAccWrite
	}
	return v
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// Program returns the BPF_PROG_TYPE_CGROUP_DEVICE instructions that
// enforce s: one block per exception, each returning the exception's
// verdict when the request matches it, then the default verdict.
func Program(s State) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, ctxAccessType, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R3, 0xffff), // R3: device type
		asm.Mov.Reg32(asm.R4, asm.R2),
		asm.RSh.Imm32(asm.R4, 16), // R4: requested access
		asm.LoadMem(asm.R5, asm.R1, ctxMajor, asm.Word),
		asm.LoadMem(asm.R6, asm.R1, ctxMinor, asm.Word),
	}
	for i, e := range s.Exceptions {
		next := fmt.Sprintf("rule-%d", i+1)
		var block asm.Instructions
		switch e.Type {
		case Char:
			block = append(block, asm.JNE.Imm(asm.R3, bpfDevChar, next))
		case Block:
			block = append(block, asm.JNE.Imm(asm.R3, bpfDevBlock, next))
		}
		if e.Access != AccessAll {
			// Match only if no access outside the rule's is requested.
			block = append(block,
				asm.Mov.Reg32(asm.R7, asm.R4),
				asm.And.Imm32(asm.R7, ^bpfAccess(e.Access)),
				asm.JNE.Imm(asm.R7, 0, next))
		}
		if e.Major != Wildcard {
			block = append(block,
				asm.JNE.Imm(asm.R5, int32(e.Major), next))
		}
		if e.Minor != Wildcard {
			block = append(block,
				asm.JNE.Imm(asm.R6, int32(e.Minor), next))
		}
		block = append(block,
			asm.Mov.Imm32(asm.R0, boolInt(e.Allow)),
			asm.Return())
		block[0] = block[0].WithSymbol(fmt.Sprintf("rule-%d", i))
		insns = append(insns, block...)
	}
	last := asm.Mov.Imm32(asm.R0, boolInt(s.DefaultAllow)).
		WithSymbol(fmt.Sprintf("rule-%d", len(s.Exceptions)))
	return append(insns, last, asm.Return())
}

// LoadProgram loads the device filter for s into the kernel.
//
// It does not raise RLIMIT_MEMLOCK: since Linux 5.11 BPF memory is
// charged to the memory cgroup, and this runtime may lack
// CAP_SYS_RESOURCE to raise the limit anyway.
func LoadProgram(s State) (*ebpf.Program, error) {
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "towel_devices",
		Type:         ebpf.CGroupDevice,
		Instructions: Program(s),
		License:      "Apache",
	}, ebpf.ProgramOptions{})
	if err != nil {
		return nil, fmt.Errorf("load device filter: %w", err)
	}
	return prog, nil
}

// SetV2 makes the device filter of the cgroup2 directory dir enforce
// rules. The new program replaces the one attached before in a single
// BPF_PROG_ATTACH with BPF_F_REPLACE (Linux 5.6), so no access is
// checked against neither or both; any further old filters are then
// detached. Programs are attached with BPF_F_ALLOW_MULTI and without a
// bpf_link, so they stay after this process exits.
func SetV2(dir string, rules []Rule) error {
	prog, err := LoadProgram(Compute(rules))
	if err != nil {
		return err
	}
	defer prog.Close()

	cg, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("set device filter: %w", err)
	}
	defer cg.Close()
	cgfd := int(cg.Fd())

	old, err := attachedFilters(cgfd)
	if err != nil {
		return fmt.Errorf("set device filter on %s: %w", dir, err)
	}
	defer func() {
		for _, p := range old {
			p.Close()
		}
	}()

	opts := link.RawAttachProgramOptions{
		Target:  cgfd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}
	replaced := -1
	if len(old) > 0 {
		opts.Anchor = link.ReplaceProgram(old[0])
		if err := link.RawAttachProgram(opts); err == nil {
			replaced = 0
		} else {
			// Without BPF_F_REPLACE: attach next to the old filters and
			// detach them after; both run in between, and a request
			// passes only when every one allows it.
			opts.Anchor = nil
		}
	}
	if replaced < 0 {
		if err := link.RawAttachProgram(opts); err != nil {
			return fmt.Errorf("attach device filter to %s: %w", dir, err)
		}
	}

	var errs []error
	for i, p := range old {
		if i == replaced {
			continue
		}
		err := link.RawDetachProgram(link.RawDetachProgramOptions{
			Target:  cgfd,
			Program: p,
			Attach:  ebpf.AttachCGroupDevice,
		})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("detach old device filter "+
				"from %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// attachedFilters returns the device programs attached to the cgroup
// itself (not inherited from its ancestors).
func attachedFilters(cgfd int) ([]*ebpf.Program, error) {
	res, err := link.QueryPrograms(link.QueryOptions{
		Target: cgfd,
		Attach: ebpf.AttachCGroupDevice,
	})
	if err != nil {
		return nil, fmt.Errorf("query attached programs: %w", err)
	}
	var progs []*ebpf.Program
	for _, ap := range res.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			// Detached and freed since the query: nothing to replace.
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			for _, q := range progs {
				q.Close()
			}
			return nil, fmt.Errorf("open program %d: %w", ap.ID, err)
		}
		progs = append(progs, p)
	}
	return progs, nil
}
