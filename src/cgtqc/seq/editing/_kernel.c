/* The compiled kernels of the editing engine (cgtqc.seq.editing._kernel).
 *
 * Alignment: CRISPResso2-compatible banded Gotoh alignment with its certificate of exactness (align, and
 * align_batch for many reads with the strand seeds, the LCS bound of the both-strand choice and the window
 * calls); the recurrence, its tie-breaking and the certificate are documented in align.py, the batch rules
 * in batch.py. Counting and tables: call_read, add_base_counts, rc_pairs (the reverse-complement merge),
 * allele_rows, alignment_texts, sort_alleles, allele_table_bytes and around_cut_groups (CRISPResso2's allele
 * tables, documented in allele_table.py and pipeline.py). Each is tested against a plain-Python statement of
 * its rule.
 *
 * Every entry point checks the element type, dimensions and sizes of its arrays (any object with the buffer
 * protocol) before touching them, so a bad argument raises TypeError or ValueError, never a crash. The
 * alignment kernels release the GIL while they compute, so the pipeline's threads run in parallel. Scores are
 * 64-bit integers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define GAP 45    /* '-' */
#define N_BASE 78 /* 'N' */
#define MAX_MATCH 5
#define PM 1
#define PI 2
#define PJ 3
#define SEED_MIN 2
#define SEED_COUNT 5
#define BY_SEEDS 3
#define NEG_BOUND (-((int64_t)1 << 50))

static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t iabs(int64_t a) { return a < 0 ? -a : a; }
static inline int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

/* ------------------------------------------------------------------ argument checks */

typedef struct {
    Py_buffer b;
    int held;
} Arr;

static void release(Arr *a, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].held) {
            PyBuffer_Release(&a[i].b);
            a[i].held = 0;
        }
}

/* kind: 'u' unsigned, 'i' signed, 'b' bool or byte; size in bytes */
static int format_ok(const char *fmt, char kind, Py_ssize_t size, Py_ssize_t itemsize) {
    if (itemsize != size) return 0;
    if (fmt == NULL) return kind == 'u' && size == 1;
    if (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '|') fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0') return 0;
    char c = fmt[0];
    switch (kind) {
    case 'u': return c == 'B' || c == 'H' || c == 'I' || c == 'L' || c == 'Q' || (size == 1 && c == 'c');
    case 'i': return c == 'b' || c == 'h' || c == 'i' || c == 'l' || c == 'q';
    case 'b': return c == '?' || c == 'B' || c == 'b' || c == 'c';
    }
    return 0;
}

/* Take a C-contiguous buffer of ``ndim`` dimensions and the given element kind and size. */
static int get(PyObject *obj, Arr *a, const char *name, char kind, Py_ssize_t size, int ndim, int writable) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->b, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a %sC-contiguous array, got %.80s", name,
                     writable ? "writable " : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    a->held = 1;
    const char *kinds = kind == 'u' ? "unsigned" : (kind == 'i' ? "signed" : "bool/uint8");
    if (!format_ok(a->b.format, kind, size, a->b.itemsize)) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s %zd-byte elements, got format '%s' of %zd bytes", name,
                     kinds, size, a->b.format ? a->b.format : "B", a->b.itemsize);
        return -1;
    }
    if (ndim > 0 && a->b.ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimension(s), got %d", name, ndim, a->b.ndim);
        return -1;
    }
    return 0;
}

static inline Py_ssize_t len0(Arr *a) { return a->b.ndim == 0 ? 1 : a->b.shape[0]; }
#define U8(a) ((uint8_t *)(a).b.buf)
#define I64(a) ((int64_t *)(a).b.buf)

static int fail(PyObject *exc, const char *msg) {
    PyErr_SetString(exc, msg);
    return -1;
}

/* ------------------------------------------------------------------ alignment */

typedef struct {
    const uint8_t *ref;
    int64_t m;
    const int64_t *inc;
    const int64_t *mat; /* 256 x 256 */
    int64_t gap_open, gap_extend, band, per_gap2;
    uint8_t *ptr;
    uint8_t *out_read, *out_ref;
    int64_t *S;  /* (m + 1, W, 3): the Cells of every row */
    int64_t W;
    uint8_t *prev;
    int64_t *state;
} Work;

/* the scores of one cell: best path ending in a match/mismatch (M), an insertion (I), a deletion (J) */
typedef struct {
    int64_t m, i, j;
} Cell;

#define ROW(w, i) ((Cell *)(w)->S + (int64_t)(i) * (w)->W)

/* One cell (i, j) of the recurrence. ``i_open``/``i_ext`` are the costs of an insertion opened (from M) or
 * extended on this row (gap score plus the row's incentive), ``j_open``/``j_ext`` those of a deletion; the
 * left and diagonal values carry along the row. Ties: I extends rather than opens, J too; M prefers I, then J,
 * then M (I when iv2 >= max(jv2, mv), else J when jv2 >= mv), written without branches. */
static inline void cell(const Cell *restrict pr, Cell *restrict cr, uint8_t *restrict prow, int64_t j, int64_t sc,
                        int64_t i_open, int64_t i_ext, int64_t j_open, int64_t j_ext, int64_t *left_m,
                        int64_t *left_i, int64_t *diag_m, int64_t *diag_i, int64_t *diag_j) {
    const int64_t up_m = pr[j].m, up_i = pr[j].i, up_j = pr[j].j;
    const int64_t i_from_m = i_open + *left_m, i_from_i = i_ext + *left_i;
    const int io = i_from_m > i_from_i;
    const int64_t iv = io ? i_from_m : i_from_i;
    const int64_t j_from_m = j_open + up_m, j_from_j = j_ext + up_j;
    const int jo = j_from_m > j_from_j;
    const int64_t jv = jo ? j_from_m : j_from_j;
    const int64_t mv = *diag_m + sc, iv2 = *diag_i + sc, jv2 = *diag_j + sc;
    const int jm = jv2 >= mv;
    const int64_t bj = jm ? jv2 : mv;
    const int ti = iv2 >= bj;
    const int64_t best = ti ? iv2 : bj;
    const int mcode = ti ? PI : (jm ? PJ : PM);
    cr[j].m = best;
    cr[j].i = iv;
    cr[j].j = jv;
    prow[j] = (uint8_t)(mcode | ((io ? PM : PI) << 2) | ((jo ? PM : PJ) << 4));
    *left_m = best;
    *left_i = iv;
    *diag_m = up_m;
    *diag_i = up_i;
    *diag_j = up_j;
}

/* Fill the band lo <= i - j <= hi from ``start_row`` (earlier rows kept from the previous read), trace
 * back; the alignment is written reversed. Returns the number of columns; identical ones and the score out. */
static int64_t dp(Work *w, const uint8_t *read, int64_t n, int64_t lo, int64_t hi, int64_t start_row,
                  int64_t *ident_out, int64_t *final_out) {
    const int64_t m = w->m, ge = w->gap_extend, go = w->gap_open;
    const uint8_t *ref = w->ref;
    const int64_t *inc = w->inc;
    uint8_t *ptr = w->ptr;
    const int64_t wd = n + 1;
    const int64_t min_score = go * n * m;
    const int64_t neg = -((int64_t)1 << 28);
    if (start_row <= 1) {
        start_row = 1;
        Cell *r0 = ROW(w, 0);
        for (int64_t j = 0; j < n + 2; j++) r0[j].m = r0[j].i = r0[j].j = neg;
        int64_t jmax0 = imin(n, -lo);
        r0[0].m = 0;
        r0[0].i = min_score;
        r0[0].j = min_score;
        ptr[0] = 0;
        for (int64_t j = 1; j <= jmax0; j++) {
            r0[j].m = min_score;
            r0[j].i = ge * j + inc[0];
            r0[j].j = min_score;
            ptr[j] = PI | (PI << 2);
        }
    }
    for (int64_t i = start_row; i <= m; i++) {
        const int64_t jlo = imax(1, i - hi), jhi = imin(n, i - lo);
        const Cell *restrict pr = ROW(w, i - 1);
        Cell *restrict cr = ROW(w, i);
        cr[jhi + 1].m = cr[jhi + 1].i = cr[jhi + 1].j = neg; /* outside the band: -inf for the next row */
        int64_t left_m, left_i;
        if (jlo == 1 && i <= hi) {
            left_m = min_score;
            left_i = min_score;
            cr[0].m = min_score;
            cr[0].i = min_score;
            cr[0].j = ge * i + inc[0];
            ptr[i * wd] = PJ | (PJ << 4);
        } else {
            left_m = neg;
            left_i = neg;
            cr[jlo - 1].m = cr[jlo - 1].i = cr[jlo - 1].j = neg;
        }
        int64_t diag_m = pr[jlo - 1].m, diag_i = pr[jlo - 1].i, diag_j = pr[jlo - 1].j;
        const int64_t inc_i = inc[i], inc_im1 = inc[i - 1];
        const int64_t op_row = i == m ? ge : go;
        const int64_t *restrict srow = w->mat + 256 * (int64_t)ref[i - 1];
        uint8_t *restrict prow = ptr + i * wd;
        /* the last column's gaps are end gaps (extend only): its cell is done apart */
        const int64_t jend = jhi < n ? jhi : n - 1;
        for (int64_t j = jlo; j <= jend; j++)
            cell(pr, cr, prow, j, srow[read[j - 1]], op_row + inc_i, ge + inc_i, op_row + inc_im1, ge, &left_m,
                 &left_i, &diag_m, &diag_i, &diag_j);
        if (jhi == n)
            cell(pr, cr, prow, n, srow[read[n - 1]], ge + inc_i, ge + inc_i, ge + inc_im1, ge, &left_m, &left_i,
                 &diag_m, &diag_i, &diag_j);
    }
    const Cell fin = ROW(w, m)[n];
    const int64_t fm = fin.m, fi = fin.i, fj = fin.j;
    int cur;
    int64_t final;
    if (fm > fj) {
        if (fm > fi) { cur = PM; final = fm; } else { cur = PI; final = fi; }
    } else {
        if (fj > fi) { cur = PJ; final = fj; } else { cur = PI; final = fi; }
    }
    int64_t i = m, j = n, k = 0, ident = 0;
    uint8_t *oa = w->out_read, *ob = w->out_ref;
    while (i > 0 || j > 0) {
        const uint8_t p = ptr[i * wd + j];
        if (cur == PM) {
            const uint8_t cr = i > 0 ? ref[i - 1] : ref[0];
            const uint8_t cq = j > 0 ? read[j - 1] : read[0];
            oa[k] = cq;
            ob[k] = cr;
            ident += cq == cr;
            cur = p & 3;
            if (i > 0) i--;
            if (j > 0) j--;
        } else if (cur == PJ) {
            oa[k] = GAP;
            ob[k] = i > 0 ? ref[i - 1] : ref[0];
            cur = (p >> 4) & 3;
            if (i > 0) i--;
        } else {
            oa[k] = j > 0 ? read[j - 1] : read[0];
            ob[k] = GAP;
            cur = (p >> 2) & 3;
            if (j > 0) j--;
        }
        k++;
    }
    *ident_out = ident;
    *final_out = final;
    return k;
}

/* Twice the best score of a path from a band-edge cell of value ``pref`` with ``rest`` bases left that
 * needs at least ``gaps`` gap columns. */
static inline int64_t exit_bound2(int64_t pref, int64_t rest, int64_t gaps, int64_t per_gap2) {
    if (rest < gaps) return NEG_BOUND;
    if (per_gap2 >= MAX_MATCH) return 2 * pref + per_gap2 * rest;
    return 2 * pref + MAX_MATCH * (rest - gaps) + per_gap2 * gaps;
}

/* Twice an upper bound of any path leaving the band through a band-edge cell. */
static int64_t edge_bound2(Work *w, int64_t n, int64_t lo, int64_t hi) {
    const int64_t m = w->m, d = m - n, pg = w->per_gap2;
    int64_t best = NEG_BOUND;
    for (int64_t i = 0; i <= m; i++) {
        if (hi < m && i < m && i - hi >= 0) {
            int64_t jb = i - hi;
            const Cell c = ROW(w, i)[jb];
            int64_t pref = imax(c.m, imax(c.i, c.j));
            best = imax(best, exit_bound2(pref, (m - i) + (n - jb), 1 + hi + 1 - d, pg));
        }
        if (lo > -n && i - lo < n && i - lo >= 0) {
            int64_t jb = i - lo;
            const Cell c = ROW(w, i)[jb];
            int64_t pref = imax(c.m, imax(c.i, c.j));
            best = imax(best, exit_bound2(pref, (m - i) + (n - jb), 1 + d - lo + 1, pg));
        }
    }
    return best;
}

/* Best score with at most one gap: a lower bound of the optimum in any band holding offsets 0..D. */
static int64_t single_gap_score(Work *w, const uint8_t *read, int64_t n, int64_t *suf) {
    const int64_t m = w->m, d = m - n;
    const uint8_t *ref = w->ref;
    const int64_t *mat = w->mat;
    if (d == 0) {
        int64_t s = 0;
        for (int64_t k = 0; k < m; k++) s += mat[256 * ref[k] + read[k]];
        return s;
    }
    const int64_t size = iabs(d), shortest = imin(m, n);
    const int64_t gap = w->gap_open + (size - 1) * w->gap_extend;
    suf[shortest] = 0;
    for (int64_t k = shortest - 1; k >= 0; k--) {
        if (d > 0)
            suf[k] = suf[k + 1] + mat[256 * ref[k + d] + read[k]];
        else
            suf[k] = suf[k + 1] + mat[256 * ref[k] + read[k - d]];
    }
    int64_t best = suf[0] + gap, pre = 0;
    for (int64_t p = 1; p <= shortest; p++) {
        pre += mat[256 * ref[p - 1] + read[p - 1]];
        int64_t v = pre + suf[p] + gap;
        if (v > best) best = v;
    }
    return best;
}

/* Twice an upper bound of any path visiting an offset outside lo..hi, from its gap count only. */
static int64_t outside_bound2(int64_t m, int64_t n, int64_t lo, int64_t hi, int64_t per_gap2) {
    const int64_t d = m - n;
    int64_t g = m + n + 1;
    if (hi < m) g = imin(g, iabs(hi + 1) + iabs(hi + 1 - d));
    if (lo > -n) g = imin(g, iabs(lo - 1) + iabs(lo - 1 - d));
    if (g > m + n) return NEG_BOUND;
    if (per_gap2 >= MAX_MATCH) return per_gap2 * (m + n);
    return MAX_MATCH * (m + n - g) + per_gap2 * g;
}

/* Banded alignment accepted only with a certificate of exactness, else the band widens (align.py). */
static int64_t align_auto(Work *w, const uint8_t *read, int64_t n, int64_t *suf, int64_t *ident_out) {
    const int64_t m = w->m, d = m - n, band = w->band, pg = w->per_gap2;
    int64_t *state = w->state;
    int64_t wd = band, w_sure = band;
    if (band < m + n && pg < MAX_MATCH) {
        int64_t lb = single_gap_score(w, read, n, suf);
        int64_t g = floordiv(MAX_MATCH * (m + n) - 2 * lb, MAX_MATCH - pg) + 1;
        w_sure = imax(1, floordiv(g - 2 - iabs(d) + 1, 2));
        if (w_sure < band) {
            wd = w_sure >= 3 ? w_sure - 1 : w_sure;
            if (state[3] == 1 && state[0] == n) {
                int64_t w_prev = state[2] - imax(0, d);
                if (wd <= w_prev && w_prev <= w_sure + 1) wd = w_prev;
            }
        }
    }
    for (;;) {
        int64_t lo = imin(0, d) - wd, hi = imax(0, d) + wd;
        int full = lo <= -n && hi >= m;
        if (full) {
            lo = -n;
            hi = m;
        }
        int64_t start = 1;
        if (state[3] == 1 && state[0] == n && state[1] == lo && state[2] == hi) {
            int64_t p = 0;
            while (p < n && w->prev[p] == read[p]) p++;
            start = imin(m, imax(1, p + lo + 1));
        }
        int64_t ident, final;
        int64_t k = dp(w, read, n, lo, hi, start, &ident, &final);
        memcpy(w->prev, read, (size_t)n);
        state[0] = n;
        state[1] = lo;
        state[2] = hi;
        state[3] = 1;
        if (full || 2 * final > outside_bound2(m, n, lo, hi, pg) || 2 * final > edge_bound2(w, n, lo, hi)) {
            *ident_out = ident;
            return k;
        }
        wd = wd < w_sure ? w_sure : wd * 3;
    }
}

/* Arguments shared by align() and align_batch(): reference, scores and work buffers. Checks that every
 * buffer holds reads of up to ``n_max`` bases. ``a`` receives 11 buffers. */
static int get_work(PyObject **o, Arr *a, Work *w, int64_t n_max) {
    /* o: ref, inc, mat, gap_open, gap_extend, band, per_gap2, ptr, out_read, out_ref, S, prev, state */
    if (get(o[0], &a[0], "ref", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "inc", 'i', 8, 1, 0) < 0 ||
        get(o[2], &a[2], "mat", 'i', 8, 2, 0) < 0)
        return -1;
    w->gap_open = PyLong_AsLongLong(o[3]);
    w->gap_extend = PyLong_AsLongLong(o[4]);
    w->band = PyLong_AsLongLong(o[5]);
    w->per_gap2 = PyLong_AsLongLong(o[6]);
    if (PyErr_Occurred()) return -1;
    if (get(o[7], &a[3], "ptr", 'u', 1, 1, 1) < 0 || get(o[8], &a[4], "out_read", 'u', 1, 1, 1) < 0 ||
        get(o[9], &a[5], "out_ref", 'u', 1, 1, 1) < 0 || get(o[10], &a[6], "S", 'i', 8, 3, 1) < 0 ||
        get(o[11], &a[7], "prev", 'u', 1, 1, 1) < 0 || get(o[12], &a[8], "state", 'i', 8, 1, 1) < 0)
        return -1;
    int64_t m = len0(&a[0]);
    w->ref = U8(a[0]);
    w->m = m;
    w->inc = I64(a[1]);
    w->mat = I64(a[2]);
    w->ptr = U8(a[3]);
    w->out_read = U8(a[4]);
    w->out_ref = U8(a[5]);
    w->S = I64(a[6]);
    w->W = a[6].b.shape[1];
    w->prev = U8(a[7]);
    w->state = I64(a[8]);
    if (m < 1) return fail(PyExc_ValueError, "ref: the reference is empty");
    if (len0(&a[1]) < m + 1) return fail(PyExc_ValueError, "inc: needs len(ref) + 1 entries");
    if (a[2].b.shape[0] != 256 || a[2].b.shape[1] != 256)
        return fail(PyExc_ValueError, "mat: expected a 256 x 256 matrix");
    if (a[6].b.shape[0] != m + 1 || a[6].b.shape[2] != 3 || w->W < n_max + 2)
        return fail(PyExc_ValueError, "S: expected shape (len(ref) + 1, >= longest read + 2, 3)");
    if (len0(&a[3]) < (m + 1) * (n_max + 1)) return fail(PyExc_ValueError, "ptr: too small for the reads");
    if (len0(&a[4]) < m + n_max || len0(&a[5]) < m + n_max)
        return fail(PyExc_ValueError, "out_read/out_ref: need len(ref) + longest read bytes");
    if (len0(&a[7]) < n_max) return fail(PyExc_ValueError, "prev: needs the longest read's length");
    if (len0(&a[8]) < 4) return fail(PyExc_ValueError, "state: needs 4 entries");
    if (w->band < 1) return fail(PyExc_ValueError, "band: must be >= 1");
    return 0;
}

PyDoc_STRVAR(align_doc,
             "align(read, ref, inc, mat, gap_open, gap_extend, band, per_gap2, ptr, out_read, out_ref, S, prev, "
             "state) -> (columns, identical)\n\nBanded alignment of one read with its certificate; the alignment "
             "is written reversed into out_read/out_ref.");

static PyObject *py_align(PyObject *self, PyObject *args) {
    PyObject *o[14];
    if (!PyArg_UnpackTuple(args, "align", 14, 14, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                           &o[9], &o[10], &o[11], &o[12], &o[13]))
        return NULL;
    Arr a[10] = {0};
    Work w;
    PyObject *ret = NULL;
    if (get(o[0], &a[9], "read", 'u', 1, 1, 0) < 0) goto done;
    int64_t n = len0(&a[9]);
    if (n < 1) {
        fail(PyExc_ValueError, "read: empty (align an empty read in Python)");
        goto done;
    }
    if (get_work(o + 1, a, &w, n) < 0) goto done;
    int64_t *suf = malloc(sizeof(int64_t) * (size_t)(n + w.m + 2));
    if (!suf) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t k, ident;
    Py_BEGIN_ALLOW_THREADS k = align_auto(&w, U8(a[9]), n, suf, &ident);
    Py_END_ALLOW_THREADS free(suf);
    ret = Py_BuildValue("(LL)", (long long)k, (long long)ident);
done:
    release(a, 10);
    return ret;
}

/* ------------------------------------------------------------------ window calls */

typedef struct {
    int64_t ins_n, del_n, sub_n, all_ins, all_del, all_sub;
} Calls;

/* Modification calls of one alignment (read left to right): inside the window ``include`` and anywhere.
 * ``refpos`` is a work array of ``k`` entries. */
static Calls call_read(const uint8_t *aln_read, const uint8_t *aln_ref, int64_t k, const uint8_t *include,
                       int64_t L, int64_t *refpos) {
    Calls c = {0, 0, 0, 0, 0, 0};
    int64_t idx = 0, start_ins = -1, cur_ins = 0, start_del = -1;
    for (int64_t col = 0; col < k; col++) {
        const uint8_t rc = aln_ref[col], qc = aln_read[col];
        if (rc != GAP) {
            refpos[col] = idx;
            if (rc != qc && qc != GAP && qc != N_BASE) {
                c.all_sub++;
                if (idx < L && include[idx]) c.sub_n++;
            }
            if (start_ins != -1) {
                c.all_ins++;
                if (start_ins < L && idx < L && include[start_ins] && include[idx]) c.ins_n += cur_ins;
                start_ins = -1;
            }
            cur_ins = 0;
            idx++;
        } else {
            refpos[col] = idx == 0 ? -1 : -idx;
            if (idx > 0 && start_ins == -1) start_ins = idx - 1;
            cur_ins++;
        }
        if (qc == GAP && start_del == -1) {
            start_del = col >= 1 ? refpos[col] : 0;
        } else if (qc != GAP && start_del != -1) {
            int64_t end_del = refpos[col];
            c.all_del++;
            for (int64_t p = imax(start_del, 0); p < imin(end_del, L); p++)
                if (include[p]) {
                    c.del_n += end_del - start_del;
                    break;
                }
            start_del = -1;
        }
    }
    if (start_del != -1) {
        int64_t end_del = refpos[k - 1] + 1;
        c.all_del++;
        for (int64_t p = imax(start_del, 0); p < imin(end_del, L); p++)
            if (include[p]) {
                c.del_n += end_del - start_del;
                break;
            }
    }
    return c;
}

PyDoc_STRVAR(call_read_doc,
             "call_read(aln_read, aln_ref, include) -> (insertion_n, deletion_n, substitution_n, all insertions, "
             "all deletions, all substitutions)\n\nModification calls of one alignment: inside the window "
             "(bool mask over reference positions) and anywhere.");

static PyObject *py_call_read(PyObject *self, PyObject *args) {
    PyObject *o[3];
    if (!PyArg_UnpackTuple(args, "call_read", 3, 3, &o[0], &o[1], &o[2])) return NULL;
    Arr a[3] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "aln_read", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "aln_ref", 'u', 1, 1, 0) < 0 ||
        get(o[2], &a[2], "include", 'b', 1, 1, 0) < 0)
        goto done;
    int64_t k = len0(&a[1]);
    if (len0(&a[0]) < k) {
        fail(PyExc_ValueError, "aln_read: shorter than aln_ref");
        goto done;
    }
    int64_t stack[512];
    int64_t *refpos = k <= 512 ? stack : malloc(sizeof(int64_t) * (size_t)k);
    if (!refpos) {
        PyErr_NoMemory();
        goto done;
    }
    Calls c = call_read(U8(a[0]), U8(a[1]), k, U8(a[2]), len0(&a[2]), refpos);
    if (refpos != stack) free(refpos);
    ret = Py_BuildValue("(LLLLLL)", (long long)c.ins_n, (long long)c.del_n, (long long)c.sub_n,
                        (long long)c.all_ins, (long long)c.all_del, (long long)c.all_sub);
done:
    release(a, 3);
    return ret;
}

PyDoc_STRVAR(add_base_counts_doc,
             "add_base_counts(aln_read, aln_ref, counts, weight)\n\nAdd ``weight`` for the read's base (A C G T N "
             "-) at every reference position to ``counts`` (int64, 6 x L).");

static PyObject *py_add_base_counts(PyObject *self, PyObject *args) {
    PyObject *o[3];
    long long weight;
    if (!PyArg_ParseTuple(args, "OOOL:add_base_counts", &o[0], &o[1], &o[2], &weight)) return NULL;
    Arr a[3] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "aln_read", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "aln_ref", 'u', 1, 1, 0) < 0 ||
        get(o[2], &a[2], "counts", 'i', 8, 2, 1) < 0)
        goto done;
    if (a[2].b.shape[0] != 6) {
        fail(PyExc_ValueError, "counts: expected 6 rows (A C G T N -)");
        goto done;
    }
    int64_t k = len0(&a[1]), L = a[2].b.shape[1], idx = 0;
    if (len0(&a[0]) < k) {
        fail(PyExc_ValueError, "aln_read: shorter than aln_ref");
        goto done;
    }
    const uint8_t *ar = U8(a[0]), *bf = U8(a[1]);
    int64_t *counts = I64(a[2]);
    for (int64_t c = 0; c < k; c++) {
        if (bf[c] == GAP) continue;
        uint8_t q = ar[c];
        int r = q == 'A' ? 0 : q == 'C' ? 1 : q == 'G' ? 2 : q == 'T' ? 3 : q == GAP ? 5 : 4;
        if (idx < L) counts[r * L + idx] += weight;
        idx++;
    }
    ret = Py_NewRef(Py_None);
done:
    release(a, 3);
    return ret;
}

/* ------------------------------------------------------------------ strand seeds and LCS bound */

static const uint8_t *base_code(void) {
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

PyDoc_STRVAR(lcs_length_doc, "lcs_length(read, ref) -> int\n\nLength of the longest common subsequence "
                             "(the bit-parallel bound the batch kernel uses to skip a strand).");

static PyObject *py_lcs_length(PyObject *self, PyObject *args) {
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

PyDoc_STRVAR(align_batch_doc,
             "align_batch(buf, offs, order, strands, include, comp, ref, inc, mat, gap_open, gap_extend, band, "
             "per_gap2, ptr, out_read, out_ref, S, prev, state, res, seeds, seed_k, emit, aln_out, aln_off, "
             "aln_len)\n\nAlign reads buf[offs[r]:offs[r+1]] (r in order) to one reference and call them in the "
             "window; see cgtqc.seq.editing.batch.align_and_call.");

static PyObject *py_align_batch(PyObject *self, PyObject *args) {
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


/* ------------------------------------------------------------------ counting helpers (Python objects) */

static const char *ascii_of(PyObject *s, Py_ssize_t *n, const char *what) {
    if (!PyUnicode_Check(s) || PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_TypeError, "%s: expected str of one-byte characters", what);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(s);
    return (const char *)PyUnicode_1BYTE_DATA(s);
}

static uint64_t hash_mem(const char *s, size_t n, uint64_t h) {
    h ^= 0x9e3779b97f4a7c15ULL + n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

PyDoc_STRVAR(rc_pairs_doc,
             "rc_pairs(keys) -> list[tuple[int, int]]\n\nEvery (i, j) where the reverse complement of keys[i] "
             "(upper case, A C G T N complemented, other letters kept) equals keys[j], in order of i.");

static PyObject *py_rc_pairs(PyObject *self, PyObject *keys) {
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "rc_pairs: expected a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    size_t nslots = 16;
    while (nslots < (size_t)(2 * n + 2)) nslots *= 2;
    int64_t *slots = malloc(nslots * sizeof(int64_t));
    uint64_t *hashes = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    char *buf = NULL;
    size_t buf_cap = 0;
    PyObject *out = PyList_New(0);
    if (!slots || !hashes || !out) {
        PyErr_NoMemory();
        goto fail;
    }
    for (size_t k = 0; k < nslots; k++) slots[k] = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = ascii_of(PyList_GET_ITEM(keys, i), &len, "rc_pairs");
        if (!s) goto fail;
        uint64_t h = hash_mem(s, (size_t)len, 0);
        hashes[i] = h;
        size_t k = h & (nslots - 1);
        while (slots[k] >= 0) k = (k + 1) & (nslots - 1);
        slots[k] = i;
    }
    static uint8_t comp[256];
    for (int c = 0; c < 256; c++) comp[c] = (uint8_t)((c >= 'a' && c <= 'z') ? c - 32 : c);
    comp['A'] = comp['a'] = 'T';
    comp['C'] = comp['c'] = 'G';
    comp['G'] = comp['g'] = 'C';
    comp['T'] = comp['t'] = 'A';
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = ascii_of(PyList_GET_ITEM(keys, i), &len, "rc_pairs");
        if (!s) goto fail;
        if ((size_t)len > buf_cap) {
            free(buf);
            buf_cap = (size_t)len * 2 + 64;
            buf = malloc(buf_cap);
            if (!buf) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        for (Py_ssize_t t = 0; t < len; t++) buf[t] = (char)comp[(uint8_t)s[len - 1 - t]];
        uint64_t h = hash_mem(buf, (size_t)len, 0);
        for (size_t k = h & (nslots - 1); slots[k] >= 0; k = (k + 1) & (nslots - 1)) {
            int64_t j = slots[k];
            if (hashes[j] != h) continue;
            Py_ssize_t lj;
            const char *sj = ascii_of(PyList_GET_ITEM(keys, j), &lj, "rc_pairs");
            if (lj == len && memcmp(sj, buf, (size_t)len) == 0) {
                PyObject *pair = Py_BuildValue("(nn)", i, (Py_ssize_t)j);
                if (!pair || PyList_Append(out, pair) < 0) {
                    Py_XDECREF(pair);
                    goto fail;
                }
                Py_DECREF(pair);
            }
        }
    }
    free(slots);
    free(hashes);
    free(buf);
    return out;
fail:
    free(slots);
    free(hashes);
    free(buf);
    Py_XDECREF(out);
    return NULL;
}

/* Python's slice bounds of [lo:hi] on a sequence of n items. */
static void py_slice(int64_t n, int64_t *lo, int64_t *hi) {
    if (*lo < 0) *lo = *lo + n < 0 ? 0 : *lo + n;
    if (*lo > n) *lo = n;
    if (*hi < 0) *hi = *hi + n < 0 ? 0 : *hi + n;
    if (*hi > n) *hi = n;
    if (*hi < *lo) *hi = *lo;
}

typedef struct {
    int64_t first, alo, ahi, rlo, rhi, unedited, nd, ni, nm, reads;
    uint64_t hash;
    double pct, comp;
} Group;

PyDoc_STRVAR(around_cut_groups_doc,
             "around_cut_groups(rows, cut, left, right, total) -> list[tuple[int, int, int, int, int, int, "
             "float]]\n\nCRISPResso2's grouping of allele rows (aligned, reference, name, status, n_deleted, "
             "n_inserted, n_mutated, reads) cut to ``left`` bases up to and including the reference base ``cut`` "
             "and ``right`` after it: per group in first-seen order (first row, aligned slice start and end, "
             "reference slice start and end, reads, %reads summed with Kahan compensation in row order as pandas "
             "sums). Slices follow Python's rules (a negative start counts from the end).");

static PyObject *py_around_cut_groups(PyObject *self, PyObject *args) {
    PyObject *rows;
    long long cut, left, right, total;
    if (!PyArg_ParseTuple(args, "O!LLLL:around_cut_groups", &PyList_Type, &rows, &cut, &left, &right, &total))
        return NULL;
    if (total <= 0) {
        PyErr_SetString(PyExc_ValueError, "around_cut_groups: total must be > 0");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    size_t nslots = 16;
    while (nslots < (size_t)(2 * n + 2)) nslots *= 2;
    int64_t *slots = malloc(nslots * sizeof(int64_t));
    Group *g = malloc(sizeof(Group) * (size_t)(n + 1));
    size_t ng = 0;
    PyObject *out = NULL;
    if (!slots || !g) {
        PyErr_NoMemory();
        goto end;
    }
    for (size_t k = 0; k < nslots; k++) slots[k] = -1;
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 8) {
            PyErr_SetString(PyExc_TypeError, "around_cut_groups: rows must be Allele tuples");
            goto end;
        }
        Py_ssize_t la, lr, ls;
        const char *a = ascii_of(PyTuple_GET_ITEM(row, 0), &la, "aligned_sequence");
        const char *rf = a ? ascii_of(PyTuple_GET_ITEM(row, 1), &lr, "reference_sequence") : NULL;
        const char *status = rf ? ascii_of(PyTuple_GET_ITEM(row, 3), &ls, "read_status") : NULL;
        if (!status) goto end;
        Group cur;
        cur.nd = PyLong_AsLongLong(PyTuple_GET_ITEM(row, 4));
        cur.ni = PyLong_AsLongLong(PyTuple_GET_ITEM(row, 5));
        cur.nm = PyLong_AsLongLong(PyTuple_GET_ITEM(row, 6));
        cur.reads = PyLong_AsLongLong(PyTuple_GET_ITEM(row, 7));
        if (PyErr_Occurred()) goto end;
        cur.unedited = ls == 10 && memcmp(status, "UNMODIFIED", 10) == 0;
        /* the alignment column of reference base ``cut``: cut + gaps up to and including that column */
        int64_t col = cut, gaps = 0, scanned = 0;
        if (cut >= 0) {
            for (;;) {
                int64_t upto = col + 1 < lr ? col + 1 : lr;
                for (; scanned < upto; scanned++) gaps += rf[scanned] == '-';
                int64_t nxt = cut + gaps;
                if (nxt == col) break;
                col = nxt;
            }
        } else { /* as str.count with a negative end, for completeness */
            PyObject *c = PyObject_CallMethod(PyTuple_GET_ITEM(row, 1), "count", "sLL", "-", 0LL, col + 1);
            if (!c) goto end;
            col = cut + PyLong_AsLongLong(c);
            Py_DECREF(c);
        }
        cur.alo = col - left + 1;
        cur.ahi = col + right + 1;
        cur.rlo = cur.alo;
        cur.rhi = cur.ahi;
        py_slice(la, &cur.alo, &cur.ahi);
        py_slice(lr, &cur.rlo, &cur.rhi);
        uint64_t h = hash_mem(a + cur.alo, (size_t)(cur.ahi - cur.alo), 1);
        h = hash_mem(rf + cur.rlo, (size_t)(cur.rhi - cur.rlo), h);
        h = hash_mem((const char *)&cur.nd, 3 * sizeof(int64_t), h ^ (uint64_t)cur.unedited);
        const double pct = (double)cur.reads / (double)total * 100.0;
        size_t k = h & (nslots - 1);
        int64_t found = -1;
        for (; slots[k] >= 0; k = (k + 1) & (nslots - 1)) {
            Group *o = &g[slots[k]];
            if (o->hash != h || o->unedited != cur.unedited || o->nd != cur.nd || o->ni != cur.ni ||
                o->nm != cur.nm || o->ahi - o->alo != cur.ahi - cur.alo || o->rhi - o->rlo != cur.rhi - cur.rlo)
                continue;
            PyObject *orow = PyList_GET_ITEM(rows, o->first);
            Py_ssize_t l1, l2;
            const char *oa = ascii_of(PyTuple_GET_ITEM(orow, 0), &l1, "aligned_sequence");
            const char *orf = ascii_of(PyTuple_GET_ITEM(orow, 1), &l2, "reference_sequence");
            if (memcmp(oa + o->alo, a + cur.alo, (size_t)(cur.ahi - cur.alo)) == 0 &&
                memcmp(orf + o->rlo, rf + cur.rlo, (size_t)(cur.rhi - cur.rlo)) == 0) {
                found = slots[k];
                break;
            }
        }
        if (found < 0) {
            cur.first = r;
            cur.hash = h;
            cur.pct = pct;
            cur.comp = 0.0;
            g[ng] = cur;
            slots[k] = (int64_t)ng++;
        } else { /* pandas' group sum: Kahan summation in row order */
            Group *o = &g[found];
            o->reads += cur.reads;
            const double y = pct - o->comp;
            const double t = o->pct + y;
            o->comp = (t - o->pct) - y;
            o->pct = t;
        }
    }
    out = PyList_New((Py_ssize_t)ng);
    if (!out) goto end;
    for (size_t i = 0; i < ng; i++) {
        PyObject *t = Py_BuildValue("(LLLLLLd)", (long long)g[i].first, (long long)g[i].alo, (long long)g[i].ahi,
                                    (long long)g[i].rlo, (long long)g[i].rhi, (long long)g[i].reads, g[i].pct);
        if (!t) {
            Py_CLEAR(out);
            goto end;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
end:
    free(slots);
    free(g);
    return out;
}


static void prefetch_row(PyObject *rows, Py_ssize_t i, Py_ssize_t n) {
    /* the rows' tuples and strings lie all over the heap, in an order unrelated to the table's */
    if (i + 12 < n) __builtin_prefetch(PyList_GET_ITEM(rows, i + 12));
    if (i + 6 < n) {
        PyObject *row = PyList_GET_ITEM(rows, i + 6);
        __builtin_prefetch(PyTuple_GET_ITEM(row, 0));
        __builtin_prefetch(PyTuple_GET_ITEM(row, 1));
    }
}

typedef struct {
    int64_t reads, idx;
    const char *a, *r;
    Py_ssize_t la, lr;
} SortRow;

static int cmp_bytes(const char *x, Py_ssize_t lx, const char *y, Py_ssize_t ly) {
    int c = memcmp(x, y, (size_t)(lx < ly ? lx : ly));
    if (c) return c;
    return lx < ly ? -1 : (lx > ly ? 1 : 0);
}

static int cmp_rows(const void *p, const void *q) {
    const SortRow *x = p, *y = q;
    if (x->reads != y->reads) return x->reads > y->reads ? -1 : 1;
    int c = cmp_bytes(x->a, x->la, y->a, y->la);
    if (c) return c;
    c = cmp_bytes(x->r, x->lr, y->r, y->lr);
    if (c) return c;
    return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

PyDoc_STRVAR(sort_alleles_doc,
             "sort_alleles(rows) -> list\n\nAllele rows in CRISPResso2's order: reads descending, then aligned and "
             "reference sequence ascending, ties in their order (a stable sort).");

static PyObject *py_sort_alleles(PyObject *self, PyObject *rows) {
    if (!PyList_Check(rows)) {
        PyErr_SetString(PyExc_TypeError, "sort_alleles: expected a list of Allele rows");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    SortRow *v = malloc(sizeof(SortRow) * (size_t)(n + 1));
    if (!v) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        prefetch_row(rows, i, n);
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 8) {
            free(v);
            PyErr_SetString(PyExc_TypeError, "sort_alleles: rows must be Allele tuples");
            return NULL;
        }
        v[i].a = ascii_of(PyTuple_GET_ITEM(row, 0), &v[i].la, "aligned_sequence");
        v[i].r = v[i].a ? ascii_of(PyTuple_GET_ITEM(row, 1), &v[i].lr, "reference_sequence") : NULL;
        v[i].reads = v[i].r ? PyLong_AsLongLong(PyTuple_GET_ITEM(row, 7)) : 0;
        v[i].idx = i;
        if (!v[i].r || PyErr_Occurred()) {
            free(v);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS qsort(v, (size_t)n, sizeof(SortRow), cmp_rows);
    Py_END_ALLOW_THREADS PyObject *out = PyList_New(n);
    if (out)
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *row = PyList_GET_ITEM(rows, v[i].idx);
            Py_INCREF(row);
            PyList_SET_ITEM(out, i, row);
        }
    free(v);
    return out;
}

static int utf8_of(PyObject *s, const char **u, Py_ssize_t *n) {
    *u = PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, n) : NULL;
    if (!*u) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "allele_table_bytes: expected str fields");
        return -1;
    }
    return 0;
}

/* Decimal text of v into out (at least 21 bytes); returns its length. */
static int int_text(long long v, char *out) {
    char tmp[24];
    int k = 0, neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int n = 0;
    if (neg) out[n++] = '-';
    while (k) out[n++] = tmp[--k];
    return n;
}

PyDoc_STRVAR(allele_table_bytes_doc,
             "allele_table_bytes(head, rows, tails) -> bytes\n\n``head`` then one line per Allele row (UTF-8): "
             "aligned, reference, name, status, n_deleted, n_inserted, n_mutated, then tails[reads] (the "
             "tab-separated read count and %reads texts): the text of Alleles_frequency_table.txt.");

static PyObject *py_allele_table_bytes(PyObject *self, PyObject *args) {
    PyObject *head, *rows, *tails;
    if (!PyArg_ParseTuple(args, "SO!O!:allele_table_bytes", &head, &PyList_Type, &rows, &PyDict_Type, &tails))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    Py_ssize_t cap = PyBytes_GET_SIZE(head) + 1024, used = PyBytes_GET_SIZE(head);
    if (n > 0) { /* a guess from the first row; grown when short */
        PyObject *row = PyList_GET_ITEM(rows, 0);
        if (PyTuple_Check(row) && PyTuple_GET_SIZE(row) >= 8 && PyUnicode_Check(PyTuple_GET_ITEM(row, 0)))
            cap += n * (2 * PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(row, 0)) + 80);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (!out) return NULL;
    memcpy(PyBytes_AS_STRING(out), PyBytes_AS_STRING(head), (size_t)used);
    for (Py_ssize_t i = 0; i < n; i++) {
        prefetch_row(rows, i, n);
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 8) {
            PyErr_SetString(PyExc_TypeError, "allele_table_bytes: rows must be Allele tuples");
            goto fail;
        }
        PyObject *tail = PyDict_GetItemWithError(tails, PyTuple_GET_ITEM(row, 7));
        if (!tail) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "allele_table_bytes: no text for a read count");
            goto fail;
        }
        const char *u[5];
        Py_ssize_t k[5], need = 3 * 21 + 8;
        for (int f = 0; f < 4; f++) {
            if (utf8_of(PyTuple_GET_ITEM(row, f), &u[f], &k[f]) < 0) goto fail;
            need += k[f];
        }
        if (utf8_of(tail, &u[4], &k[4]) < 0) goto fail;
        need += k[4];
        long long v[3];
        for (int f = 0; f < 3; f++) {
            v[f] = PyLong_AsLongLong(PyTuple_GET_ITEM(row, 4 + f));
            if (v[f] == -1 && PyErr_Occurred()) goto fail;
        }
        if (used + need > cap) {
            cap = 2 * (used + need);
            if (_PyBytes_Resize(&out, cap) < 0) return NULL;
        }
        char *p = PyBytes_AS_STRING(out) + used;
        for (int f = 0; f < 4; f++) {
            memcpy(p, u[f], (size_t)k[f]);
            p += k[f];
            *p++ = '\t';
        }
        for (int f = 0; f < 3; f++) {
            p += int_text(v[f], p);
            if (f < 2) *p++ = '\t';
        }
        memcpy(p, u[4], (size_t)k[4]); /* the tail starts with its tab */
        p += k[4];
        *p++ = '\n';
        used = p - PyBytes_AS_STRING(out);
    }
    if (_PyBytes_Resize(&out, used) < 0) return NULL;
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

PyDoc_STRVAR(allele_rows_doc,
             "allele_rows(cls, alns, ref_index, names, reads, includes, modified, unmodified) -> list\n\nOne ``cls`` "
             "row (a tuple subclass: Allele) per j with reads[j] > 0: (aligned, reference, names[j], status, "
             "n_deleted, n_inserted, n_mutated, reads[j]) from the alignment alns[j] = (aligned read, aligned "
             "reference), the counts called in the window includes[ref_index[j]] and the status ``modified`` "
             "when any is non-zero.");

static PyObject *py_allele_rows(PyObject *self, PyObject *args) {
    PyObject *cls, *alns, *refi, *names, *reads, *includes, *modified, *unmodified;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!UU:allele_rows", &PyType_Type, &cls, &PyList_Type, &alns,
                          &PyList_Type, &refi, &PyList_Type, &names, &PyList_Type, &reads, &PyList_Type,
                          &includes, &modified, &unmodified))
        return NULL;
    PyTypeObject *type = (PyTypeObject *)cls;
    if (!PyType_IsSubtype(type, &PyTuple_Type) || type->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "allele_rows: cls must be a tuple subclass without a __dict__");
        return NULL;
    }
    const Py_ssize_t nref = PyList_GET_SIZE(includes), n = PyList_GET_SIZE(alns);
    if (PyList_GET_SIZE(refi) != n || PyList_GET_SIZE(names) != n || PyList_GET_SIZE(reads) != n) {
        PyErr_SetString(PyExc_ValueError, "allele_rows: alns, ref_index, names and reads need one entry each");
        return NULL;
    }
    Arr *inc = calloc((size_t)nref + 1, sizeof(Arr));
    PyObject *out = NULL;
    int64_t *refpos = NULL;
    size_t cap = 0;
    if (!inc) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nref; i++)
        if (get(PyList_GET_ITEM(includes, i), &inc[i], "include", 'b', 1, 1, 0) < 0) goto fail;
    out = PyList_New(0);
    if (!out) goto fail;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *count = PyList_GET_ITEM(reads, j);
        const long long nr = PyLong_AsLongLong(count);
        if (nr == -1 && PyErr_Occurred()) goto fail;
        if (nr == 0) continue;
        PyObject *pk = PyList_GET_ITEM(alns, j);
        if (!PyTuple_Check(pk) || PyTuple_GET_SIZE(pk) != 2) {
            PyErr_SetString(PyExc_TypeError, "allele_rows: an alignment is not an (aligned read, reference) pair");
            goto fail;
        }
        Py_ssize_t la, lr;
        const char *x = ascii_of(PyTuple_GET_ITEM(pk, 0), &la, "aligned read");
        const char *y = x ? ascii_of(PyTuple_GET_ITEM(pk, 1), &lr, "aligned reference") : NULL;
        if (!y) goto fail;
        Py_ssize_t ri = PyLong_AsSsize_t(PyList_GET_ITEM(refi, j));
        if (ri == -1 && PyErr_Occurred()) goto fail;
        if (ri < 0 || ri >= nref || la < lr) {
            PyErr_SetString(PyExc_ValueError, "allele_rows: bad reference index or alignment");
            goto fail;
        }
        if ((size_t)lr + 1 > cap) {
            free(refpos);
            cap = (size_t)lr * 2 + 64;
            refpos = malloc(sizeof(int64_t) * cap);
            if (!refpos) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        Calls c = call_read((const uint8_t *)x, (const uint8_t *)y, lr, U8(inc[ri]), len0(&inc[ri]), refpos);
        PyObject *nd = PyLong_FromLongLong(c.del_n), *ni = PyLong_FromLongLong(c.ins_n);
        PyObject *nm = PyLong_FromLongLong(c.sub_n);
        PyObject *row = nd && ni && nm ? type->tp_alloc(type, 8) : NULL; /* items start NULL */
        if (!row) {
            Py_XDECREF(nd);
            Py_XDECREF(ni);
            Py_XDECREF(nm);
            goto fail;
        }
        PyObject *status = c.ins_n + c.del_n + c.sub_n > 0 ? modified : unmodified;
        PyTuple_SET_ITEM(row, 0, Py_NewRef(PyTuple_GET_ITEM(pk, 0)));
        PyTuple_SET_ITEM(row, 1, Py_NewRef(PyTuple_GET_ITEM(pk, 1)));
        PyTuple_SET_ITEM(row, 2, Py_NewRef(PyList_GET_ITEM(names, j)));
        PyTuple_SET_ITEM(row, 3, Py_NewRef(status));
        PyTuple_SET_ITEM(row, 4, nd);
        PyTuple_SET_ITEM(row, 5, ni);
        PyTuple_SET_ITEM(row, 6, nm);
        PyTuple_SET_ITEM(row, 7, Py_NewRef(count));
        int err = PyList_Append(out, row);
        Py_DECREF(row);
        if (err < 0) goto fail;
    }
    free(refpos);
    release(inc, (int)nref);
    free(inc);
    return out;
fail:
    free(refpos);
    release(inc, (int)nref);
    free(inc);
    Py_XDECREF(out);
    return NULL;
}

PyDoc_STRVAR(alignment_texts_doc,
             "alignment_texts(buf, starts, lengths, ref_len, offs, rows, out)\n\nThe alignments the batch kernel "
             "kept (see align_and_call's ``emit``) as str pairs: for each read r of ``rows``, out[r] = (aligned "
             "read, aligned reference) when lengths[r] >= 0 (the reference row lies ref_len + read length bytes "
             "after the read row; read lengths from ``offs``); other entries of ``out`` are left alone.");

static PyObject *py_alignment_texts(PyObject *self, PyObject *args) {
    PyObject *o[4], *rows, *out;
    long long ref_len;
    if (!PyArg_ParseTuple(args, "OOOLOO!O!:alignment_texts", &o[0], &o[1], &o[2], &ref_len, &o[3], &PyList_Type,
                          &rows, &PyList_Type, &out))
        return NULL;
    Arr a[4] = {0};
    PyObject *ret = NULL;
    if (get(o[0], &a[0], "buf", 'u', 1, 1, 0) < 0 || get(o[1], &a[1], "starts", 'i', 8, 1, 0) < 0 ||
        get(o[2], &a[2], "lengths", 'i', 8, 1, 0) < 0 || get(o[3], &a[3], "offs", 'i', 8, 1, 0) < 0)
        goto done;
    const int64_t n = len0(&a[1]), size = len0(&a[0]);
    const int64_t *st = I64(a[1]), *ln = I64(a[2]), *offs = I64(a[3]);
    const char *buf = (const char *)a[0].b.buf;
    if (len0(&a[2]) < n || len0(&a[3]) < n + 1 || PyList_GET_SIZE(out) < n) {
        fail(PyExc_ValueError, "alignment_texts: starts, lengths, offs and out need one entry per read");
        goto done;
    }
    for (Py_ssize_t q = 0; q < PyList_GET_SIZE(rows); q++) {
        Py_ssize_t r = PyLong_AsSsize_t(PyList_GET_ITEM(rows, q));
        if (r == -1 && PyErr_Occurred()) goto done;
        if (r < 0 || r >= n) {
            fail(PyExc_ValueError, "alignment_texts: a row is out of range");
            goto done;
        }
        const int64_t k = ln[r];
        if (k < 0) continue;
        const int64_t p = st[r] + ref_len + (offs[r + 1] - offs[r]);
        if (st[r] < 0 || p < 0 || st[r] + k > size || p + k > size) {
            fail(PyExc_ValueError, "alignment_texts: an alignment lies outside the buffer");
            goto done;
        }
        PyObject *x = PyUnicode_DecodeLatin1(buf + st[r], (Py_ssize_t)k, NULL);
        PyObject *y = x ? PyUnicode_DecodeLatin1(buf + p, (Py_ssize_t)k, NULL) : NULL;
        PyObject *t = y ? PyTuple_Pack(2, x, y) : NULL;
        Py_XDECREF(x);
        Py_XDECREF(y);
        if (!t) goto done;
        if (PyList_SetItem(out, r, t) < 0) goto done; /* steals t */
    }
    ret = Py_NewRef(Py_None);
done:
    release(a, 4);
    return ret;
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"align", py_align, METH_VARARGS, align_doc},
    {"align_batch", py_align_batch, METH_VARARGS, align_batch_doc},
    {"call_read", py_call_read, METH_VARARGS, call_read_doc},
    {"add_base_counts", py_add_base_counts, METH_VARARGS, add_base_counts_doc},
    {"lcs_length", py_lcs_length, METH_VARARGS, lcs_length_doc},
    {"rc_pairs", py_rc_pairs, METH_O, rc_pairs_doc},
    {"sort_alleles", py_sort_alleles, METH_O, sort_alleles_doc},
    {"allele_table_bytes", py_allele_table_bytes, METH_VARARGS, allele_table_bytes_doc},
    {"allele_rows", py_allele_rows, METH_VARARGS, allele_rows_doc},
    {"alignment_texts", py_alignment_texts, METH_VARARGS, alignment_texts_doc},
    {"around_cut_groups", py_around_cut_groups, METH_VARARGS, around_cut_groups_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "Compiled kernels of the editing engine (alignment, strand seeds, window calls).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    base_code();
    return PyModule_Create(&module);
}
