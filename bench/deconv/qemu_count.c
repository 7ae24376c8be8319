/* qemu_count: a TCG plugin counting executed guest instructions (aarch64) between markers.
 *
 * The guest brackets the code to measure with two otherwise-unused HINT instructions
 * (architectural NOPs): `hint #0x70` opens a region, `hint #0x71` closes it. Every executed
 * translation block adds its instruction count, and its number of FMLA (vector / by-element)
 * instructions, to two counters through inline ops; the markers snapshot those counters.
 * Results (one line per closed region) go to the file named by the `out=` plugin argument:
 *     region <i> insns <n> fmla <n>
 * Counts are exact up to the few instructions sharing a block with a marker.
 * With `profile=<file>` it also writes, at exit, every translation block executed inside a
 * region as "<guest address> <instructions> <executions>" (slower: a callback per block), to
 * be mapped to functions with nm (bench/deconv/profile.py).
 *
 * Build:  gcc -shared -fPIC -O2 -I<dir of qemu-plugin.h> qemu_count.c -o libqemu_count.so
 * Run:    qemu-aarch64 -plugin ./libqemu_count.so,out=counts.txt -L /usr/aarch64-linux-gnu prog
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define HINT_BASE 0xD503201Fu           /* HINT #imm: imm7 in bits [11:5] */
#define MARK_BEGIN (HINT_BASE | (0x70u << 5))
#define MARK_END (HINT_BASE | (0x71u << 5))

static uint64_t g_insns, g_fmla;          /* running totals (inline ops) */
static uint64_t g_begin_insns, g_begin_fmla;
static int g_open, g_regions;
static FILE* g_out;
static FILE* g_profile;

struct tb_stat {
  uint64_t vaddr, insns, execs;
  struct tb_stat* next;
};
static struct tb_stat* g_tbs;

static void on_tb_exec(unsigned int vcpu, void* udata) {
  (void)vcpu;
  if (g_open) ((struct tb_stat*)udata)->execs++;
}

/* FMLA (vector), single/double: 0 Q 0 01110 0 sz 1 Rm 110011 Rn Rd.
 * FMLA (by element), single/double: 0 Q 0 01111 1 sz L M Rm 0001 H 0 Rn Rd. */
static int is_fmla(uint32_t op) {
  return (op & 0xBFA0FC00u) == 0x0E20CC00u || (op & 0xBF80F400u) == 0x0F801000u;
}

static void on_begin(unsigned int vcpu, void* udata) {
  (void)vcpu; (void)udata;
  g_begin_insns = g_insns;
  g_begin_fmla = g_fmla;
  g_open = 1;
}

static void on_end(unsigned int vcpu, void* udata) {
  (void)vcpu; (void)udata;
  if (!g_open) return;
  g_open = 0;
  fprintf(g_out, "region %d insns %" PRIu64 " fmla %" PRIu64 "\n", g_regions++, g_insns - g_begin_insns,
          g_fmla - g_begin_fmla);
  fflush(g_out);
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  uint64_t fmla = 0;
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    if (qemu_plugin_insn_size(insn) != 4) continue;
    uint32_t op;
    memcpy(&op, qemu_plugin_insn_data(insn), 4);
    if (is_fmla(op)) ++fmla;
    if (op == MARK_BEGIN) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
    if (op == MARK_END) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
  }
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &g_insns, n);
  if (g_profile) {
    struct tb_stat* st = calloc(1, sizeof *st);
    st->vaddr = qemu_plugin_tb_vaddr(tb);
    st->insns = n;
    st->next = g_tbs;
    g_tbs = st;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, st);
  }
  if (fmla) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &g_fmla, fmla);
}

static void on_exit_cb(qemu_plugin_id_t id, void* udata) {
  (void)id; (void)udata;
  fprintf(g_out, "total insns %" PRIu64 " fmla %" PRIu64 "\n", g_insns, g_fmla);
  if (g_out != stderr) fclose(g_out);
  if (g_profile) {
    for (struct tb_stat* st = g_tbs; st; st = st->next)
      if (st->execs) fprintf(g_profile, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", st->vaddr, st->insns, st->execs);
    fclose(g_profile);
  }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
  (void)info;
  g_out = stderr;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      g_out = fopen(argv[i] + 4, "w");
      if (!g_out) {
        fprintf(stderr, "qemu_count: cannot open %s\n", argv[i] + 4);
        return -1;
      }
    }
    if (strncmp(argv[i], "profile=", 8) == 0 && !(g_profile = fopen(argv[i] + 8, "w"))) {
      fprintf(stderr, "qemu_count: cannot open %s\n", argv[i] + 8);
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  return 0;
}
