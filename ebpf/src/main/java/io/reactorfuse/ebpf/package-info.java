/**
 * eBPF for reactor-fuse: a kernel-side mirror of the lookup cache, the handler that answers from
 * it, and an observer of what reaches user space.
 *
 * <ul>
 *   <li>{@link io.reactorfuse.ebpf.CacheMaps}: a {@link io.reactorfuse.spi.CacheListener} that
 *       keeps entry_map and attr_map (ExtFUSE's layout, plus each key's expiry) equal to the
 *       user-space cache ({@code LookupCache}), with ExtFUSE's lookup counting.
 *   <li>{@link io.reactorfuse.ebpf.CacheProgram}: the LOOKUP/GETATTR handler over those maps.
 *       Mainline Linux has no hook for BPF to answer FUSE requests (the ExtFUSE patch adds one,
 *       handed over in the INIT reply), so it is a BPF_PROG_TYPE_SYSCALL program run with
 *       BPF_PROG_TEST_RUN, and checked to give the user-space cache's replies byte for byte.
 *   <li>{@link io.reactorfuse.ebpf.FuseObserver}: per-opcode request counts and latency of one
 *       mount from the tp_btf/fuse_request_send and fuse_request_end tracepoints;
 *       {@link io.reactorfuse.ebpf.FuseTop} prints them.
 *   <li>{@link io.reactorfuse.ebpf.Bpf}: can BPF be used here, and if not, why. Without root or
 *       libbpf, nothing here is needed: the Caffeine cache works alone.
 * </ul>
 *
 * <p>The BPF programs ({@code src/main/bpf}) are compiled by the Maven build (clang -target bpf)
 * and ship as resources; libbpf loads them. All native calls are in one package-private class.
 */
package io.reactorfuse.ebpf;
