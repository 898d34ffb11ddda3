/* The batch of cgtqc.seq.editing._kernel: CRISPResso2's strand seeds, the LCS bound of the both-strand
 * choice and align_batch, which aligns and calls many reads against one reference (batch.py documents its
 * rules). */
#include "_kernel.h"

/* the same values as SEED_MIN, SEED_COUNT and BY_SEEDS in batch.py */
#define SEED_MIN 2
#define SEED_COUNT 5
#define BY_SEEDS 3

/* ------------------------------------------------------------------ strand seeds and LCS bound */

const uint8_t *base_code(void) {
    static uint8_t code[256];
    static int ready = 0;
    if (!ready) {
        memset(code, 4, sizeof code);
        code['A'] = 0;
        code['C'] = 1;
        code['G'] = 2;
        code['T'] = 3;
        ready = 1;
    }
    return code;
}

/* +1 forward, -1 reverse, 0 both: CRISPResso2's seed rule from the k-mers of the read. */
static int seed_strand(const uint8_t *read, int64_t n, const uint16_t *table, int64_t k, const uint8_t *code) {
    const uint64_t kmask = ((uint64_t)1 << (2 * k)) - 1;
    uint64_t h = 0;
    int64_t valid = 0;
    unsigned found = 0;
    for (int64_t t = 0; t < n; t++) {
        uint8_t c = code[read[t]];
        if (c > 3) {
            valid = 0;
            h = 0;
            continue;
        }
        h = ((h << 2) | c) & kmask;
        valid++;
        if (valid >= k) found |= table[h];
    }
    int fw = 0, rv = 0;
    for (int b = 0; b < SEED_COUNT; b++) {
        fw += (found >> b) & 1;
        rv += (found >> (SEED_COUNT + b)) & 1;
    }
    if (fw > SEED_MIN && rv == 0) return 1;
    if (fw == 0 && rv > SEED_MIN) return -1;
    return 0;
}

/* Per byte value, the bit mask of the reference positions holding it (``words`` 64-bit words each). */
static void lcs_masks(const uint8_t *ref, int64_t m, int64_t words, uint64_t *pm) {
    memset(pm, 0, sizeof(uint64_t) * 256 * (size_t)words);
    for (int64_t i = 0; i < m; i++) pm[ref[i] * words + i / 64] |= (uint64_t)1 << (i % 64);
}

/* Length of the longest common subsequence of a read and the reference (bit-parallel, Allison-Dix / Hyyro:
 * V' = (V + U) | (V - U), U = V & match(c); the zero bits among the first m are the LCS). */
static int64_t lcs_length(const uint8_t *read, int64_t n, const uint64_t *pm, int64_t words, int64_t m,
                          uint64_t *v) {
    for (int64_t w = 0; w < words; w++) v[w] = ~(uint64_t)0;
    for (int64_t t = 0; t < n; t++) {
        const uint64_t *row = pm + read[t] * words;
        uint64_t carry = 0;
        for (int64_t w = 0; w < words; w++) {
            uint64_t x = v[w], u = x & row[w];
            uint64_t s1 = x + u, c1 = s1 < x;
            uint64_t s2 = s1 + carry, c2 = s2 < s1;
            v[w] = s2 | (x & ~u);
            carry = c1 | c2;
        }
    }
    int64_t ones = 0;
    for (int64_t i = 0; i < m; i++) ones += (v[i / 64] >> (i % 64)) & 1;
    return m - ones;
}

KERNEL_DOC(lcs_length_doc, "lcs_length(read, ref) -> int\n\nLength of the longest common subsequence "
                         "(the bit-parallel bound the batch kernel uses to skip a strand).");

PyObject *py_lcs_length(PyObject *self, PyObject *args) {
    PyObject *o[2];
    if (!PyArg_UnpackTuple(args, "lcs_length", 2, 2, &o[0], &o[1])) return NULL;
    Arr a[2] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "read", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "ref", 'u', 1, 1, 0) < 0) goto done;
    int64_t m = len0(&a[1]), words = (m + 63) / 64;
    if (words < 1) words = 1;
    uint64_t *pm = malloc(sizeof(uint64_t) * (size_t)(257 * words));
    if (!pm) {
        PyErr_NoMemory();
        goto done;
    }
    lcs_masks(U8(a[1]), m, words, pm);
    int64_t r = lcs_length(U8(a[0]), len0(&a[0]), pm, words, m, pm + 256 * words);
    free(pm);
    ret = PyLong_FromLongLong(r);
done:
    release(a, 2);
    return ret;
}

/* ------------------------------------------------------------------ the batch */

static inline double identity(const int64_t *row) { return (double)(100 * row[0]) / (double)row[1]; }

typedef struct {
    const uint8_t *buf;
    const int64_t *offs, *order;
    int64_t n_order;
    int64_t *strands, *res;
    const uint8_t *include;
    int64_t L;
    const uint8_t *comp;
    const uint16_t *seeds;
    int64_t seed_k;
    int emit;
    uint8_t *aln_out;
    const int64_t *aln_off;
    int64_t *aln_len;
} Batch;

static void align_batch(Work *w, Batch *bt, int64_t n_max, uint8_t *tmp, uint8_t *fa, uint8_t *fb,
                        int64_t *refpos, int64_t *suf, uint64_t *pm, int64_t words, uint64_t *vwork) {
    const int64_t m = w->m;
    const uint8_t *code = base_code();
    lcs_masks(w->ref, m, words, pm);
    for (int64_t q = 0; q < bt->n_order; q++) {
        const int64_t r = bt->order[q];
        int64_t st = bt->strands[r];
        if (st == 2) continue;
        const uint8_t *read = bt->buf + bt->offs[r];
        const int64_t n = bt->offs[r + 1] - bt->offs[r];
        int64_t *res = bt->res + 10 * r; /* res[r, s, c] = res[5 * s + c] */
        if (st == BY_SEEDS) {
            st = seed_strand(read, n, bt->seeds, bt->seed_k, code);
            bt->strands[r] = st;
        }
        if (st != 1)
            for (int64_t t = 0; t < n; t++) tmp[t] = bt->comp[read[n - 1 - t]];
        int first = 0;
        int64_t lcs_fw = 0, lcs_rv = 0;
        if (st == 0 && n > 0) {
            lcs_fw = lcs_length(read, n, pm, words, m, vwork);
            lcs_rv = lcs_length(tmp, n, pm, words, m, vwork);
            if (lcs_rv > lcs_fw) first = 1;
        }
        const int64_t longest = imax(m, n);
        for (int step = 0; step < 2; step++) {
            const int s = step == 0 ? first : 1 - first;
            if ((s == 0 && st == -1) || (s == 1 && st == 1)) continue;
            const uint8_t *seq = s == 1 ? tmp : read;
            int64_t *row = res + 5 * s;
            if (n == 0) {
                row[0] = 0;
                row[1] = m;
                continue;
            }
            if (st == 0 && step == 1) {
                const int64_t o_ident = res[5 * first], o_k = res[5 * first + 1];
                int skip;
                if (s == 1) /* reverse second: it must score strictly higher than the forward to count */
                    skip = lcs_rv * o_k <= o_ident * longest;
                else /* forward second: skip only if below by more than the 3-decimal rounding could hide */
                    skip = 100000 * (o_ident * longest - lcs_fw * o_k) > 2 * o_k * longest;
                if (skip) {
                    row[0] = 0;
                    row[1] = 1;
                    row[2] = row[3] = row[4] = 0;
                    continue;
                }
            }
            int64_t ident;
            const int64_t k = align_auto(w, seq, n, suf, &ident);
            for (int64_t t = 0; t < k; t++) {
                fa[t] = w->out_read[k - 1 - t];
                fb[t] = w->out_ref[k - 1 - t];
            }
            Calls c = call_read(fa, fb, k, bt->include, bt->L, refpos);
            row[0] = ident;
            row[1] = k;
            row[2] = c.ins_n;
            row[3] = c.del_n;
            row[4] = c.sub_n;
            if (bt->emit) {
                int keep = 1;
                if (st == 0 && step == 1) {
                    /* the forward is kept unless the reverse's identity is higher; both within the rounding
                     * of identity_score: the caller decides (-1) */
                    const double fw = identity(res), rv = identity(res + 5);
                    const int fw_wins = rv <= fw;
                    if (!fw_wins && (rv - fw <= 0.0011 && fw - rv <= 0.0011)) {
                        bt->aln_len[r] = -1;
                        continue;
                    }
                    keep = (s == 0) == fw_wins;
                }
                if (keep) {
                    const int64_t o = bt->aln_off[r], cap = m + n;
                    memcpy(bt->aln_out + o, fa, (size_t)k);
                    memcpy(bt->aln_out + o + cap, fb, (size_t)k);
                    bt->aln_len[r] = k;
                }
            }
        }
    }
}

KERNEL_DOC(align_batch_doc,
           "align_batch(buf, offs, order, strands, include, comp, ref, inc, mat, gap_open, gap_extend, band, "
           "per_gap2, ptr, out_read, out_ref, S, prev, state, res, seeds, seed_k, emit, aln_out, aln_off, "
           "aln_len)\n\nAlign reads buf[offs[r]:offs[r+1]] (r in order) to one reference and call them in the "
           "window; see cgtqc.seq.editing.batch.align_and_call.");

PyObject *py_align_batch(PyObject *self, PyObject *args) {
    PyObject *o[26];
    if (!PyArg_UnpackTuple(args, "align_batch", 26, 26, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                           &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15], &o[16], &o[17], &o[18],
                           &o[19], &o[20], &o[21], &o[22], &o[23], &o[24], &o[25]))
        return NULL;
    /* 0 buf 1 offs 2 order 3 strands 4 include 5 comp; 6..18 ref inc mat go ge band per_gap2 ptr out_read
     * out_ref S prev state; 19 res 20 seeds 21 seed_k 22 emit 23 aln_out 24 aln_off 25 aln_len */
    Arr a[20] = {0};
    Work w;
    Batch bt = {0};
    PyObject *ret = NULL;
    void *mem = NULL;
    if (get(o[0], &a[9], "buf", 'u', 1, 1, 0) < 0 || get(o[1], &a[10], "offs", 'i', 8, 1, 0) < 0 ||
        get(o[2], &a[11], "order", 'i', 8, 1, 0) < 0 || get(o[3], &a[12], "strands", 'i', 8, 1, 1) < 0 ||
        get(o[4], &a[13], "include", 'b', 1, 1, 0) < 0 || get(o[5], &a[14], "comp", 'u', 1, 1, 0) < 0 ||
        get(o[19], &a[15], "res", 'i', 8, 3, 1) < 0 || get(o[20], &a[16], "seeds", 'u', 2, 1, 0) < 0)
        goto done;
    bt.seed_k = PyLong_AsLongLong(o[21]);
    bt.emit = PyObject_IsTrue(o[22]);
    if (PyErr_Occurred() || bt.emit < 0) goto done;
    const int64_t n_reads = len0(&a[10]) - 1, size = len0(&a[9]);
    const int64_t *offs = I64(a[10]), *order = I64(a[11]);
    if (n_reads < 0) {
        fail(PyExc_ValueError, "offs: needs at least one entry");
        goto done;
    }
    int64_t n_max = 1;
    for (int64_t r = 0; r < n_reads; r++) {
        if (offs[r] < 0 || offs[r + 1] < offs[r] || offs[r + 1] > size) {
            fail(PyExc_ValueError, "offs: read offsets must increase and stay inside buf");
            goto done;
        }
        n_max = imax(n_max, offs[r + 1] - offs[r]);
    }
    for (int64_t q = 0; q < len0(&a[11]); q++)
        if (order[q] < 0 || order[q] >= n_reads) {
            fail(PyExc_ValueError, "order: a read index is out of range");
            goto done;
        }
    if (len0(&a[12]) < n_reads || a[15].b.shape[0] < n_reads || a[15].b.shape[1] != 2 ||
        a[15].b.shape[2] != 5) {
        fail(PyExc_ValueError, "strands (n) and res (n x 2 x 5) need one row per read");
        goto done;
    }
    if (len0(&a[14]) != 256) {
        fail(PyExc_ValueError, "comp: expected 256 entries");
        goto done;
    }
    if (bt.seed_k < 1 || bt.seed_k > 16 || len0(&a[16]) < ((int64_t)1 << (2 * bt.seed_k))) {
        fail(PyExc_ValueError, "seeds: needs 4 ** seed_k entries (1 <= seed_k <= 16)");
        goto done;
    }
    if (get_work(o + 6, a, &w, n_max) < 0) goto done;
    const int64_t m = w.m;
    if (bt.emit) {
        if (get(o[23], &a[17], "aln_out", 'u', 1, 1, 1) < 0 || get(o[24], &a[18], "aln_off", 'i', 8, 1, 0) < 0 ||
            get(o[25], &a[19], "aln_len", 'i', 8, 1, 1) < 0)
            goto done;
        if (len0(&a[18]) < n_reads || len0(&a[19]) < n_reads) {
            fail(PyExc_ValueError, "aln_off and aln_len need one entry per read");
            goto done;
        }
        const int64_t *ao = I64(a[18]);
        for (int64_t r = 0; r < n_reads; r++)
            if (ao[r] < 0 || ao[r] + 2 * (m + offs[r + 1] - offs[r]) > len0(&a[17])) {
                fail(PyExc_ValueError, "aln_out: too small for the alignment slots");
                goto done;
            }
        bt.aln_out = U8(a[17]);
        bt.aln_off = ao;
        bt.aln_len = I64(a[19]);
    }
    bt.buf = U8(a[9]);
    bt.offs = offs;
    bt.order = order;
    bt.n_order = len0(&a[11]);
    bt.strands = I64(a[12]);
    bt.res = I64(a[15]);
    bt.include = U8(a[13]);
    bt.L = len0(&a[13]);
    bt.comp = U8(a[14]);
    bt.seeds = (const uint16_t *)a[16].b.buf;
    int64_t words = imax(1, (m + 63) / 64), cols = m + n_max + 1;
    size_t bytes = sizeof(uint64_t) * (size_t)(257 * words) + sizeof(int64_t) * (size_t)(2 * cols + 2) +
                   (size_t)(n_max + 2 * cols + 64);
    mem = malloc(bytes);
    if (!mem) {
        PyErr_NoMemory();
        goto done;
    }
    uint64_t *pm = mem, *vwork = pm + 256 * words;
    int64_t *refpos = (int64_t *)(vwork + words), *suf = refpos + cols;
    uint8_t *tmp = (uint8_t *)(suf + cols + 2), *fa = tmp + n_max, *fb = fa + cols;
    Py_BEGIN_ALLOW_THREADS align_batch(&w, &bt, n_max, tmp, fa, fb, refpos, suf, pm, words, vwork);
    Py_END_ALLOW_THREADS ret = Py_NewRef(Py_None);
done:
    free(mem);
    release(a, 20);
    return ret;
}
