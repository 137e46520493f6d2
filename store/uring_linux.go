package store

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syncRing makes a file's data durable, as fdatasync does, through an
// io_uring: the fsync runs on one of the kernel's io-wq threads, and the
// goroutine that asked waits for it on an eventfd, in the runtime's
// network poller, holding no P.
//
// A goroutine blocked in the fdatasync system call holds its P until the
// runtime's sysmon thread takes it back, a tick (20 µs) or more later, to
// hand it to another thread; and every such handoff keeps sysmon waking
// every 20 µs rather than backing off. Under load the hold journal syncs
// a few hundred times a second: with one core, sysmon's wake-ups alone
// cost several µs of CPU per request. Through the ring, the journal's
// syncs leave the scheduler alone.
//
// The durability is fdatasync's: IORING_OP_FSYNC with
// IORING_FSYNC_DATASYNC is vfs_fsync_range(file, 0, LLONG_MAX, 1), the
// call fdatasync makes.
//
// A syncRing is safe for concurrent use; syncs are made one at a time,
// and close waits for the one under way.
type syncRing struct {
	mu sync.Mutex // guards everything below and the rings' memory

	// broken is set when the ring failed, or was closed: every sync
	// after fails with errRing at once, and its caller calls fdatasync.
	broken bool

	fd  int      // the io_uring
	ev  *os.File // eventfd the ring signals each completion on, pollable
	mem []byte   // the submission and completion rings (one mapping)
	sqe []byte   // the submission queue entries

	sqTail, sqMask, sqArray *uint32
	cqHead, cqTail, cqMask  *uint32
	cqes                    uintptr // offset of the completion entries in mem

	seq uint64 // user_data of the last submission
}

// From linux/io_uring.h.
const (
	uringOffSQRing       = 0
	uringOffSQEs         = 0x10000000
	uringFeatSingleMmap  = 1 << 0
	uringOpFsync         = 3
	uringFsyncDatasync   = 1 << 0
	uringRegisterEventfd = 4
	uringSQESize         = 64
	uringCQESize         = 16
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// newSyncRing sets up a ring, or returns an error if the kernel has no
// io_uring or refuses it (too old, disabled by sysctl, filtered by
// seccomp, as in many containers): the caller then calls fdatasync.
func newSyncRing() (*syncRing, error) {
	var p uringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 2, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &syncRing{fd: int(fd)}
	if err := r.init(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *syncRing) init(p *uringParams) error {
	if p.features&uringFeatSingleMmap == 0 {
		return errors.New("io_uring: rings need two mappings (kernel before 5.4)")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uringCQESize)
	mem, err := unix.Mmap(r.fd, uringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: map rings: %w", err)
	}
	r.mem = mem
	sqe, err := unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries*uringSQESize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring: map entries: %w", err)
	}
	r.sqe = sqe
	r.sqTail = r.word(p.sqOff.tail)
	r.sqMask = r.word(p.sqOff.ringMask)
	r.sqArray = r.word(p.sqOff.array)
	r.cqHead = r.word(p.cqOff.head)
	r.cqTail = r.word(p.cqOff.tail)
	r.cqMask = r.word(p.cqOff.ringMask)
	r.cqes = uintptr(p.cqOff.cqes)

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("io_uring: eventfd: %w", err)
	}
	// Non-blocking, the file is read through the runtime's poller.
	r.ev = os.NewFile(uintptr(efd), "io_uring eventfd")
	fd32 := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterEventfd, uintptr(unsafe.Pointer(&fd32)), 1, 0, 0); errno != 0 {
		return fmt.Errorf("io_uring: register eventfd: %w", errno)
	}
	return nil
}

// word is the uint32 at off in the rings' mapping.
func (r *syncRing) word(off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[off]))
}

// datasync makes f's data durable, as fdatasync(f) does, and returns once
// it is. An error wrapping errRing is the ring's own: the data may not
// have been synced, and fdatasync should be called instead. Any other
// error is the fsync's.
func (r *syncRing) datasync(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %w", errRing, err)
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = r.sync(int32(fd)) }); err != nil {
		return fmt.Errorf("%w: %w", errRing, err)
	}
	return serr
}

// sync submits an fsync of fd and waits for its completion.
func (r *syncRing) sync(fd int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		return fmt.Errorf("%w: failed before, or closed", errRing)
	}
	r.seq++
	tail := atomic.LoadUint32(r.sqTail)
	i := tail & *r.sqMask
	e := r.sqe[i*uringSQESize : (i+1)*uringSQESize]
	clear(e)
	e[0] = uringOpFsync
	*(*int32)(unsafe.Pointer(&e[4])) = fd
	*(*uint32)(unsafe.Pointer(&e[28])) = uringFsyncDatasync
	*(*uint64)(unsafe.Pointer(&e[32])) = r.seq
	*(*uint32)(unsafe.Add(unsafe.Pointer(r.sqArray), 4*uintptr(i))) = i
	// The kernel reads the entry once it sees the new tail.
	atomic.StoreUint32(r.sqTail, tail+1)
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 0, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			r.broken = true
			return fmt.Errorf("%w: io_uring_enter: %w", errRing, errno)
		}
		if n != 1 {
			r.broken = true
			return fmt.Errorf("%w: io_uring_enter submitted %d entries, want 1", errRing, n)
		}
		break
	}
	var buf [8]byte
	for {
		head := atomic.LoadUint32(r.cqHead)
		if head != atomic.LoadUint32(r.cqTail) {
			c := r.mem[r.cqes+uintptr(head&*r.cqMask)*uringCQESize:]
			user := *(*uint64)(unsafe.Pointer(&c[0]))
			res := *(*int32)(unsafe.Pointer(&c[8]))
			atomic.StoreUint32(r.cqHead, head+1)
			if user != r.seq {
				continue // cannot happen: one sync at a time
			}
			return r.completed(res)
		}
		// Wait for the ring to signal a completion; the poller parks
		// this goroutine meanwhile.
		if _, err := r.ev.Read(buf[:]); err != nil {
			r.broken = true
			return fmt.Errorf("%w: wait: %w", errRing, err)
		}
	}
}

// ringResult, if set, stands in for the kernel's answer to a sync: tests
// set it to give the ring a completion result it cannot be made to give.
var ringResult atomic.Pointer[func(res int32) int32]

// completed returns what the completion result res of a sync means; r.mu
// is held. An errno that says the ring did not run the fsync (it was
// interrupted or canceled, or the ring refused the operation: an
// io_uring emulated or restricted by policy, as in some sandboxes, may
// answer EINVAL, EOPNOTSUPP or ENOSYS, and an interrupted worker may leak
// a kernel-internal restart code) marks the ring broken and wraps
// errRing: fdatasync is then called instead, now and from then on. Any
// other errno, EIO foremost, is the fsync's own and is returned as is: a
// failed fsync has consumed the file's writeback error, and an fdatasync
// after it would report success for data that never reached the disk.
func (r *syncRing) completed(res int32) error {
	if f := ringResult.Load(); f != nil {
		res = (*f)(res)
	}
	if res >= 0 {
		return nil
	}
	switch errno := syscall.Errno(-res); errno {
	case syscall.EINTR, syscall.EAGAIN, syscall.ECANCELED,
		syscall.EINVAL, syscall.EOPNOTSUPP, syscall.ENOSYS,
		errRestartSys, errRestartNoIntr, errRestartNoHand, errRestartBlock:
		r.broken = true
		return fmt.Errorf("%w: fsync: %w", errRing, errno)
	default:
		return errno
	}
}

// The kernel's internal restart codes (include/linux/errno.h), which a
// completion should never carry, and if it does, means the fsync was
// interrupted.
const (
	errRestartSys    = syscall.Errno(512)
	errRestartNoIntr = syscall.Errno(513)
	errRestartNoHand = syscall.Errno(514)
	errRestartBlock  = syscall.Errno(516)
)

// close releases the ring, once the sync under way, if any, is done.
// Syncs after it fail with errRing.
func (r *syncRing) close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broken = true
	var errs []error
	if r.ev != nil {
		errs = append(errs, r.ev.Close())
		r.ev = nil
	}
	if r.sqe != nil {
		errs = append(errs, unix.Munmap(r.sqe))
		r.sqe = nil
	}
	if r.mem != nil {
		errs = append(errs, unix.Munmap(r.mem))
		r.mem = nil
	}
	if r.fd >= 0 {
		errs = append(errs, unix.Close(r.fd))
		r.fd = -1
	}
	return errors.Join(errs...)
}
