package io.reactorfuse.recovery;

import io.reactorfuse.internal.sys.Spawn;

/** Describes a waitpid status the way a person reads it: "exit status 1", "killed by SIGKILL". */
final class WaitStatus {
  /** Linux x86-64 signal numbers 1 to 31. */
  private static final String[] NAMES = {null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP",
      "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE",
      "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
      "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",
      "SIGPWR", "SIGSYS"};

  static final int SIGKILL = 9;

  private WaitStatus() {}

  /** Whether the process exited with status 0. */
  static boolean isCleanExit(int status) {
    return Spawn.signalOf(status) == 0 && Spawn.exitCode(status) == 0;
  }

  /** "exit status N", or "killed by SIGNAME (N)" with ", core dumped" where it did. */
  static String describe(int status) {
    int signal = Spawn.signalOf(status);
    if (signal == 0) {
      return "exit status " + Spawn.exitCode(status);
    }
    return "killed by " + signalName(signal) + " (" + signal + ")"
        + (Spawn.coreDumped(status) ? ", core dumped" : "");
  }

  static String signalName(int signal) {
    return signal > 0 && signal < NAMES.length ? NAMES[signal] : "signal " + signal;
  }
}
