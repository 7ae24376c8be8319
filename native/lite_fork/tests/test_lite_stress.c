/* Fork mode over many objects and threads: no descriptor, shared-memory object, mapping or
 * process left behind after 1000 create/forward/destroy cycles; 4 threads each driving their
 * own network at once; a caller that fork()s gets its own worker. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lite_test.h"

static int count_fds(void) {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (fcntl(fd, F_GETFD) != -1) ++n;
  return n;
}

/* Entries in /dev/shm (-1 where there is none): named shared memory must never linger. */
static int count_dev_shm(void) {
  DIR* d = opendir("/dev/shm");
  if (!d) return -1;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

/* Processes whose parent is this one (Linux /proc; -1 elsewhere). */
static int count_children(void) {
  DIR* d = opendir("/proc");
  if (!d) return -1;
  int n = 0;
  struct dirent* e;
  char path[300], buf[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    buf[len] = 0;
    const char* close_paren = strrchr(buf, ')');
    int ppid = 0;
    if (close_paren && sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == (int)getpid()) ++n;
  }
  closedir(d);
  return n;
}

static int cycle(int i) {
  LiteNetwork net = loaded_network(kModel);
  if (!net) return -1;
  int rc = forward_and_check(net, 6, (float)i);
  if (i % 100 == 0) {  /* now and then, standalone tensors and caller memory too */
    LiteTensorDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.layout.ndim = 1;
    desc.layout.shapes[0] = 6;
    LiteTensor t = NULL, s = NULL;
    float user[6] = {1, 2, 3, 4, 5, 6};
    size_t start[1] = {1}, end[1] = {2};
    if (LITE_make_tensor(desc, &t) || LITE_reset_tensor_memory(t, user, sizeof user) ||
        LITE_tensor_copy(io(net, "y"), t) || LITE_tensor_slice(io(net, "x"), start, end, NULL, 1, &s))
      rc = -10;
    LITE_destroy_tensor(s);
    LITE_destroy_tensor(t);
  }
  if (LITE_destroy_network(net) != 0) rc = -20;
  return rc;
}

struct Job {
  int index;
  int errors;
};

static void* drive(void* arg) {
  struct Job* job = (struct Job*)arg;
  LiteNetwork net = loaded_network(kModel);
  if (!net) {
    job->errors = 1000;
    return NULL;
  }
  for (int i = 0; i < 200; ++i)
    if (forward_and_check(net, 6, (float)(job->index * 1000 + i)) != 0) ++job->errors;
  if (LITE_destroy_network(net) != 0) ++job->errors;
  return NULL;
}

int main(void) {
  CHECK(is_fork(), "run with LITE_FORK_MODE=1");
  CHECK(cycle(-1) == 0, "warm-up cycle");
  int64_t pid = mgf_lite_fork_worker_pid();
  int fds = count_fds(), shm = count_dev_shm(), children = count_children();
  CHECK(children == -1 || children == 1, "one worker process (%d)", children);

  int bad = 0;
  for (int i = 0; i < 1000; ++i) bad += cycle(i) != 0;
  CHECK(bad == 0, "%d of 1000 cycles failed", bad);
  CHECK(count_fds() == fds, "descriptors: %d before, %d after", fds, count_fds());
  CHECK(count_dev_shm() == shm, "/dev/shm entries: %d before, %d after", shm, count_dev_shm());
  CHECK(count_children() == children, "child processes: %d before, %d after", children, count_children());
  CHECK(stats().shm_blocks_mapped == 0, "no shared memory mapped (%llu)", (unsigned long long)stats().shm_blocks_mapped);
  CHECK(mgf_lite_fork_worker_pid() == pid, "the same worker served every cycle");

  /* Four threads, each with its own network, at once (each thread gets its own channel). */
  pthread_t th[4];
  struct Job jobs[4];
  for (int i = 0; i < 4; ++i) {
    jobs[i].index = i + 1;
    jobs[i].errors = 0;
    CHECK(pthread_create(&th[i], NULL, drive, &jobs[i]) == 0, "thread %d", i);
  }
  for (int i = 0; i < 4; ++i) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].errors == 0, "thread %d: %d wrong forwards", i, jobs[i].errors);
  }
  CHECK(count_fds() == fds, "finished threads closed their channels (%d vs %d)", count_fds(), fds);
  CHECK(mgf_lite_fork_worker_pid() == pid && stats().workers_lost == 0, "one worker throughout");

  /* A forked child cannot share its parent's worker: it starts its own, the parent's goes on. */
  LiteNetwork net = loaded_network(kModel);
  pid_t child = fork();
  if (child == 0) {
    int inherited = LITE_forward(net) != 0 && strstr(LITE_get_last_error(), "forked");
    LiteNetwork own = loaded_network(kModel);
    int ok = inherited && own && forward_and_check(own, 6, 4) == 0 && mgf_lite_fork_worker_pid() != pid;
    mgf_lite_fork_shutdown();
    _exit(ok ? 0 : 1);
  }
  int status = -1;
  CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the forked child used Lite with its own worker (status %d)", status);
  CHECK(forward_and_check(net, 6, 5) == 0, "the parent's network still works");
  OK(LITE_destroy_network(net));

#if defined(__linux__)
  /* A caller that dies without cleaning up takes its worker with it. */
  int fds_pipe[2];
  CHECK(pipe(fds_pipe) == 0, "pipe");
  child = fork();
  if (child == 0) {
    LiteNetwork own = loaded_network(kModel);
    int64_t worker = own ? mgf_lite_fork_worker_pid() : 0;
    if (write(fds_pipe[1], &worker, sizeof worker) != (ssize_t)sizeof worker) _exit(1);
    _exit(0);  /* no shutdown, no destroy */
  }
  int64_t orphan = 0;
  CHECK(read(fds_pipe[0], &orphan, sizeof orphan) == (ssize_t)sizeof orphan && orphan > 0, "worker pid of the child");
  close(fds_pipe[0]);
  close(fds_pipe[1]);
  waitpid(child, &status, 0);
  int gone = 0;
  for (int i = 0; i < 400 && !gone; ++i) {
    char path[64], buf[256] = {0};
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)orphan);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
      gone = 1;
      break;
    }
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    const char* paren = len > 0 ? strrchr(buf, ')') : NULL;
    gone = paren && (paren[2] == 'Z' || paren[2] == 'X');  /* a zombie runs nothing */
    if (!gone) usleep(50000);
  }
  CHECK(gone, "the worker %lld outlived its caller", (long long)orphan);
#endif

  OK(mgf_lite_fork_shutdown());
  CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "no child process left");
  CHECK(count_children() <= 0, "no child process left (/proc)");
  return finish("test_lite_stress");
}
