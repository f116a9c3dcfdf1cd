package io.reactorfuse.recovery;

import io.reactorfuse.internal.sys.NativeError;
import io.reactorfuse.internal.sys.Spawn;
import io.reactorfuse.recovery.SupervisorProtocol.HandOff;
import io.reactorfuse.recovery.SupervisorProtocol.Message;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker process of a supervisor: started with posix_spawn, its end of a SOCK_SEQPACKET
 * socket pair as fd 3, and two daemon threads of its own: one blocks in waitid until it ends,
 * one reads its messages. Both hand what they see to a {@link Listener} (the supervisor's
 * control thread). The fields without {@code final} belong to that control thread.
 */
final class WorkerProcess {
  private static final Logger log = LoggerFactory.getLogger(Supervisor.class);

  /** Where a worker's death and messages go; called from the worker's own threads. */
  interface Listener {
    void died(WorkerProcess worker, int status, long nanos);

    void message(WorkerProcess worker, Message message);
  }

  final int pid;
  final boolean startedAsStandby;
  final long startNanos;
  private final int socket;
  private final Thread watcher;
  private final Thread reader;
  private final AtomicBoolean socketClosed = new AtomicBoolean();
  /** Guarded by this: set when the zombie is reaped, after which the pid is not ours. */
  private boolean reaped;

  int generation = -1;
  boolean ready;
  boolean serving;
  /** The restart this worker took over in, whose resent counts it reports. */
  SupervisorRun.EventRecord event;

  private WorkerProcess(int pid, int socket, boolean standby, long startNanos,
      Listener listener) {
    this.pid = pid;
    this.socket = socket;
    this.startedAsStandby = standby;
    this.startNanos = startNanos;
    this.watcher = new Thread(() -> watch(listener), "reactor-fuse-worker-" + pid + "-wait");
    this.reader = new Thread(() -> read(listener), "reactor-fuse-worker-" + pid + "-read");
    watcher.setDaemon(true);
    reader.setDaemon(true);
  }

  /**
   * Starts {@code program} with {@code argv} and {@code env}, in a process group of its own (a
   * terminal's Ctrl-C is the supervisor's to handle) and without core dumps.
   */
  static WorkerProcess start(String program, List<String> argv, List<String> env,
      boolean standby, Listener listener) throws NativeError {
    int[] pair = Spawn.socketPair(true);
    int pid;
    try {
      List<String> environment = env;
      if (standby) {
        environment = new ArrayList<>(env);
        environment.add(SupervisorProtocol.STANDBY_ENV + "=1");
      }
      pid = Spawn.spawn(program, argv, environment, 2, pair[1], true);
    } catch (NativeError | RuntimeException e) {
      Spawn.close(pair[0]);
      throw e;
    } finally {
      Spawn.close(pair[1]); // the child has its copy as fd 3
    }
    long now = System.nanoTime();
    // Best effort: a SIGABRT or SIGSEGV of a worker is handled as a crash, a core file of a JVM
    // (gigabytes) would only fill the disk.
    Spawn.disableCoreDumps(pid);
    WorkerProcess w = new WorkerProcess(pid, pair[0], standby, now, listener);
    w.watcher.start();
    w.reader.start();
    return w;
  }

  private void watch(Listener listener) {
    int status;
    long nanos;
    try {
      Spawn.awaitExit(pid);
      nanos = System.nanoTime();
      synchronized (this) {
        status = Spawn.poll(pid);
        reaped = true;
      }
    } catch (NativeError e) {
      // ECHILD: someone else reaped our child (a waitpid(-1) elsewhere in this JVM)
      log.error("Cannot wait for worker pid {}: {}; taking it for dead", pid, e.getMessage());
      nanos = System.nanoTime();
      synchronized (this) {
        reaped = true;
      }
      status = 0x7f; // "killed by signal 127": no real status, and never a clean exit
    }
    listener.died(this, status, nanos);
  }

  private void read(Listener listener) {
    try {
      while (true) {
        Spawn.Message packet = Spawn.receive(socket, SupervisorProtocol.MAX_MESSAGE, 0);
        if (packet == null) {
          return;
        }
        Message m;
        try {
          m = SupervisorProtocol.decode(packet.payload());
        } catch (IllegalArgumentException e) {
          log.warn("Worker pid {} sent a message this supervisor cannot read: {}", pid,
              e.getMessage());
          continue;
        }
        listener.message(this, m);
      }
    } catch (NativeError e) {
      log.debug("Reading from worker pid {} ended: {}", pid, e.getMessage());
    }
  }

  /** Sends the fds and what the worker needs to serve them. */
  void handOff(int generation, Path mountPoint, Path stateFile, int[] fds) throws NativeError {
    Spawn.send(socket, SupervisorProtocol.encode(
        new HandOff(generation, fds.length, mountPoint, stateFile)), fds);
    this.generation = generation;
  }

  /** Sends {@code signal} unless the process has been reaped (then the pid is not ours). */
  void signal(int signal) {
    synchronized (this) {
      if (reaped) {
        return;
      }
      try {
        Spawn.kill(pid, signal);
      } catch (NativeError e) {
        log.debug("kill({}, {}): {}", pid, signal, e.getMessage()); // a zombie: gone already
      }
    }
  }

  /** Waits up to {@code millis} for the process to be reaped; true if it was. */
  boolean awaitReaped(long millis) throws InterruptedException {
    watcher.join(millis);
    return !watcher.isAlive();
  }

  /**
   * Closes the supervisor's end of the socket once the worker is dead. The reader sees the end
   * of file by itself, after the last message the worker sent; it is woken by a shutdown only if
   * a descendant of the worker still holds the other end. Joined before the close, so that it
   * never reads a reused fd number.
   */
  void closeSocket() {
    if (socketClosed.getAndSet(true)) {
      return; // a second close could hit an fd number reused meanwhile
    }
    try {
      reader.join(500);
      if (reader.isAlive()) {
        Spawn.shutdown(socket);
        reader.join(2000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      Spawn.shutdown(socket);
    }
    if (!reader.isAlive()) {
      Spawn.close(socket);
    } else {
      log.warn("The reader of worker pid {} does not end; leaving its socket open", pid);
    }
  }

  @Override
  public String toString() {
    return "worker pid " + pid + (generation >= 0 ? " (generation " + generation + ")" : "");
  }
}
