/* CRISPResso2's allele tables in cgtqc.seq.editing._kernel: the reverse-complement merge (rc_pairs), the
 * grouping around the cut (around_cut_groups), the table's order (sort_alleles) and its text
 * (allele_table_bytes); allele_table.py and pipeline.py document them. */
#include "_kernel.h"
#include "../_hash.h"

static uint64_t hash_mem(const char *s, size_t n, uint64_t h) {
    h = hash_words(s, n, h ^ (0x9e3779b97f4a7c15ULL + n));
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The size of ``o``, or -1 with TypeError ``msg`` when it is not a list. */
static Py_ssize_t list_size(PyObject *o, const char *msg) {
    if (PyList_Check(o)) return PyList_GET_SIZE(o);
    PyErr_SetString(PyExc_TypeError, msg);
    return -1;
}

/* An open-addressing table for ``n`` keys: a power of two of at least 2 n + 2 slots, all empty (-1); NULL
 * when out of memory. */
static int64_t *new_slots(Py_ssize_t n, size_t *nslots) {
    size_t ns = 16;
    while (ns < (size_t)(2 * n + 2)) ns *= 2;
    int64_t *slots = malloc(ns * sizeof(int64_t));
    if (slots)
        for (size_t k = 0; k < ns; k++) slots[k] = -1;
    *nslots = ns;
    return slots;
}

/* rows[i] when it is an Allele tuple (8 fields or more), else NULL with TypeError naming ``fn``. */
static PyObject *allele_row(PyObject *rows, Py_ssize_t i, const char *fn) {
    PyObject *row = PyList_GET_ITEM(rows, i);
    if (PyTuple_Check(row) && PyTuple_GET_SIZE(row) >= 8) return row;
    PyErr_Format(PyExc_TypeError, "%s: rows must be Allele tuples", fn);
    return NULL;
}

KERNEL_DOC(rc_pairs_doc,
           "rc_pairs(keys) -> list[tuple[int, int]]\n\nEvery (i, j) where the reverse complement of keys[i] "
           "(upper case, A C G T N complemented, other letters kept) equals keys[j], in order of i.");

PyObject *py_rc_pairs(PyObject *self, PyObject *keys) {
    Py_ssize_t n = list_size(keys, "rc_pairs: expected a list of str");
    if (n < 0) return NULL;
    size_t nslots;
    int64_t *slots = new_slots(n, &nslots);
    uint64_t *hashes = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    char *buf = NULL;
    size_t buf_cap = 0;
    PyObject *out = PyList_New(0);
    if (!slots || !hashes || !out) {
        PyErr_NoMemory();
        goto fail;
    }
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
            Py_ssize_t lj = -1; /* keys[j] was read above */
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

KERNEL_DOC(around_cut_groups_doc,
           "around_cut_groups(rows, cut, left, right, total) -> list[tuple[int, int, int, int, int, int, "
           "float]]\n\nCRISPResso2's grouping of allele rows (aligned, reference, name, status, n_deleted, "
           "n_inserted, n_mutated, reads) cut to ``left`` bases up to and including the reference base ``cut`` "
           "and ``right`` after it: per group in first-seen order (first row, aligned slice start and end, "
           "reference slice start and end, reads, %reads summed with Kahan compensation in row order as pandas "
           "sums). Slices follow Python's rules (a negative start counts from the end).");

PyObject *py_around_cut_groups(PyObject *self, PyObject *args) {
    PyObject *rows;
    long long cut, left, right, total;
    if (!PyArg_ParseTuple(args, "O!LLLL:around_cut_groups", &PyList_Type, &rows, &cut, &left, &right, &total))
        return NULL;
    if (total <= 0) {
        PyErr_SetString(PyExc_ValueError, "around_cut_groups: total must be > 0");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    size_t nslots;
    int64_t *slots = new_slots(n, &nslots);
    Group *g = malloc(sizeof(Group) * (size_t)(n + 1));
    size_t ng = 0;
    PyObject *out = NULL;
    if (!slots || !g) {
        PyErr_NoMemory();
        goto end;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *row = allele_row(rows, r, "around_cut_groups");
        if (!row) goto end;
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

KERNEL_DOC(sort_alleles_doc,
           "sort_alleles(rows) -> list\n\nAllele rows in CRISPResso2's order: reads descending, then aligned and "
           "reference sequence ascending, ties in their order (a stable sort).");

PyObject *py_sort_alleles(PyObject *self, PyObject *rows) {
    Py_ssize_t n = list_size(rows, "sort_alleles: expected a list of Allele rows");
    if (n < 0) return NULL;
    SortRow *v = malloc(sizeof(SortRow) * (size_t)(n + 1));
    if (!v) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        prefetch_row(rows, i, n);
        PyObject *row = allele_row(rows, i, "sort_alleles");
        if (!row) {
            free(v);
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

KERNEL_DOC(allele_table_bytes_doc,
           "allele_table_bytes(head, rows, tails) -> bytes\n\n``head`` then one line per Allele row (UTF-8): "
           "aligned, reference, name, status, n_deleted, n_inserted, n_mutated, then tails[reads] (the "
           "tab-separated read count and %reads texts): the text of Alleles_frequency_table.txt.");

PyObject *py_allele_table_bytes(PyObject *self, PyObject *args) {
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
        PyObject *row = allele_row(rows, i, "allele_table_bytes");
        if (!row) goto fail;
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
