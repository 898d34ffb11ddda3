/* The dynamic-programming aligner of cgtqc.seq.editing._kernel: CRISPResso2-compatible banded Gotoh
 * alignment with its certificate of exactness (align.py documents the recurrence, its tie-breaking and the
 * certificate), the checks of its work buffers and align(). */
#include "_kernel.h"

#define MAX_MATCH 5
#define PM 1
#define PI 2
#define PJ 3
#define NEG_BOUND (-((int64_t)1 << 50))

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
int64_t align_auto(Work *w, const uint8_t *read, int64_t n, int64_t *suf, int64_t *ident_out) {
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
int get_work(PyObject **o, Arr *a, Work *w, int64_t n_max) {
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

KERNEL_DOC(align_doc,
           "align(read, ref, inc, mat, gap_open, gap_extend, band, per_gap2, ptr, out_read, out_ref, S, prev, "
           "state) -> (columns, identical)\n\nBanded alignment of one read with its certificate; the alignment "
           "is written reversed into out_read/out_ref.");

PyObject *py_align(PyObject *self, PyObject *args) {
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
