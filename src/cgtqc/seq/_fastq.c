/* The compiled fast path of cgtqc.seq.fastq.count_sequences: FASTQ bytes checked record by record with the
 * fast path's rules and the distinct sequences counted in a hash table, in first-seen order.
 *
 * SequenceCounter.feed(block) takes the file's bytes block by block (b"" at the end of the file) and returns
 * the sequences first seen in this block (str, in order), or None as soon as the bytes are not accepted as
 * they stand (a CR, a bad record, a truncated end, blank lines at the end); the caller then reads the file
 * with the checked reader, which names the place of the problem. result() gives (counts, reads, longest).
 * The block is parsed without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_hash.h"

typedef struct {
    PyObject_HEAD
    char *arena; /* the distinct sequences, one after the other */
    size_t arena_len, arena_cap;
    int64_t *off; /* per entry: offset in the arena, length, count, hash */
    int64_t *len;
    int64_t *count;
    uint64_t *hash;
    size_t n, cap;
    uint32_t *slots; /* 0 empty, else entry index + 1 */
    size_t nslots;
    char *carry; /* bytes after the last complete record */
    size_t carry_len, carry_cap;
    int64_t reads, max_len;
    int failed, finished;
} Counter;

static const uint8_t *valid_base(void) {
    static uint8_t ok[256];
    static int ready = 0;
    if (!ready) {
        const char *b = "ACGTNacgtn";
        for (const char *p = b; *p; p++) ok[(uint8_t)*p] = 1;
        ready = 1;
    }
    return ok;
}

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    return mix(hash_words(s, n, 0x9e3779b97f4a7c15ULL ^ (uint64_t)n));
}

/* Room for ``need`` bytes in *buf of *cap (doubled, from ``first`` when empty): 0, or -2 when out of memory. */
static int reserve(char **buf, size_t *cap, size_t need, size_t first) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : first;
    while (c < need) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return -2;
    *buf = b;
    *cap = c;
    return 0;
}

static int grow_table(Counter *c) {
    size_t ns = c->nslots ? c->nslots * 2 : 1 << 16;
    uint32_t *slots = calloc(ns, sizeof(uint32_t));
    if (!slots) return -1;
    for (size_t e = 0; e < c->n; e++) {
        size_t s = c->hash[e] & (ns - 1);
        while (slots[s]) s = (s + 1) & (ns - 1);
        slots[s] = (uint32_t)(e + 1);
    }
    free(c->slots);
    c->slots = slots;
    c->nslots = ns;
    return 0;
}

static int grow_entries(Counter *c) {
    size_t cap = c->cap ? c->cap * 2 : 1 << 14;
    int64_t **columns[3] = {&c->off, &c->len, &c->count};
    for (int i = 0; i < 3; i++) {
        int64_t *p = realloc(*columns[i], cap * sizeof(int64_t));
        if (!p) return -1;
        *columns[i] = p;
    }
    uint64_t *hash = realloc(c->hash, cap * sizeof(uint64_t));
    if (!hash) return -1;
    c->hash = hash;
    c->cap = cap;
    return 0;
}

/* Count one sequence: 0, or -1 when it has a letter other than A C G T N (in either case; checked the
 * first time it is seen only), -2 when out of memory. */
static int add(Counter *c, const char *s, size_t n, const uint8_t *ok) {
    uint64_t h = hash_bytes(s, n);
    size_t mask = c->nslots - 1, k = h & mask;
    for (;;) {
        uint32_t e = c->slots[k];
        if (!e) break;
        e--;
        if (c->hash[e] == h && (size_t)c->len[e] == n && memcmp(c->arena + c->off[e], s, n) == 0) {
            c->count[e]++;
            return 0;
        }
        k = (k + 1) & mask;
    }
    for (size_t i = 0; i < n; i++)
        if (!ok[(uint8_t)s[i]]) return -1;
    if (c->n == c->cap && grow_entries(c) < 0) return -2;
    if (reserve(&c->arena, &c->arena_cap, c->arena_len + n, 1 << 20) < 0) return -2;
    memcpy(c->arena + c->arena_len, s, n);
    size_t e = c->n++;
    c->off[e] = (int64_t)c->arena_len;
    c->len[e] = (int64_t)n;
    c->count[e] = 1;
    c->hash[e] = h;
    c->arena_len += n;
    c->slots[k] = (uint32_t)(e + 1);
    if (2 * c->n > c->nslots && grow_table(c) < 0) return -2;
    return 0;
}

/* Parse the complete records of buf[0:n] (4 newline-ended lines each); returns the bytes consumed, or -1
 * when a record fails the checks, -2 when out of memory. */
static int64_t parse(Counter *c, const char *buf, size_t n) {
    const uint8_t *ok = valid_base();
    size_t p = 0;
    for (;;) {
        const char *l[4];
        size_t ln[4];
        size_t q = p;
        int complete = 1;
        for (int i = 0; i < 4; i++) {
            const char *e = memchr(buf + q, '\n', n - q);
            if (!e) {
                complete = 0;
                break;
            }
            l[i] = buf + q;
            ln[i] = (size_t)(e - (buf + q));
            q = (size_t)(e - buf) + 1;
        }
        if (!complete) return (int64_t)p;
        if (ln[0] == 0 || l[0][0] != '@' || ln[2] == 0 || l[2][0] != '+' || ln[1] != ln[3]) return -1;
        int st = add(c, l[1], ln[1], ok);
        if (st < 0) return st;
        c->reads++;
        if ((int64_t)ln[1] > c->max_len) c->max_len = (int64_t)ln[1];
        p = q;
    }
}

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\x0b' || ch == '\x0c';
}

/* End of the file: what is left must be whole records, the last line not blank (blank lines at the end are
 * left to the checked reader). */
static int64_t finish(Counter *c) {
    size_t n = c->carry_len;
    if (n == 0) return 0;
    if (c->carry[n - 1] != '\n') { /* the last line without its newline */
        if (reserve(&c->carry, &c->carry_cap, c->carry_len + 1, 1 << 16) < 0) return -2;
        c->carry[n++] = '\n';
    }
    size_t lines = 0, last = 0;
    for (size_t i = 0; i < n; i++)
        if (c->carry[i] == '\n') lines++;
    if (lines % 4) return -1;
    /* the last line: from after the previous newline */
    last = n - 1;
    size_t start = last;
    while (start > 0 && c->carry[start - 1] != '\n') start--;
    int blank = 1;
    for (size_t i = start; i < last; i++)
        if (!is_space(c->carry[i])) blank = 0;
    if (blank) return -1;
    int64_t used = parse(c, c->carry, n);
    if (used < 0) return used;
    if ((size_t)used != n) return -1;
    c->carry_len = 0;
    return 0;
}

static int append_carry(Counter *c, const char *p, size_t n) {
    if (reserve(&c->carry, &c->carry_cap, c->carry_len + n, 1 << 16) < 0) return -2;
    memcpy(c->carry + c->carry_len, p, n);
    c->carry_len += n;
    return 0;
}

/* One block: the record the previous block left unfinished is completed in the carry buffer, the block's
 * own complete records are parsed where they are, and what is left of it is carried to the next. */
static int64_t feed_block(Counter *c, const char *buf, size_t n) {
    size_t pos = 0;
    if (c->carry_len) {
        int lines = 0;
        for (size_t i = 0; i < c->carry_len; i++) lines += c->carry[i] == '\n';
        while (lines < 4 && pos < n) {
            const char *e = memchr(buf + pos, '\n', n - pos);
            if (!e) {
                pos = n;
                break;
            }
            pos = (size_t)(e - buf) + 1;
            lines++;
        }
        if (append_carry(c, buf, pos) < 0) return -2;
        if (lines < 4) return 0; /* the whole block belongs to the unfinished record */
        int64_t used = parse(c, c->carry, c->carry_len);
        if (used < 0) return used;
        /* parse leaves the carry holding no complete record; it took them all */
        c->carry_len = 0;
    }
    int64_t used = parse(c, buf + pos, n - pos);
    if (used < 0) return used;
    return append_carry(c, buf + pos + used, n - pos - (size_t)used);
}

static PyObject *new_keys(Counter *c, size_t from) {
    PyObject *out = PyList_New((Py_ssize_t)(c->n - from));
    if (!out) return NULL;
    for (size_t e = from; e < c->n; e++) {
        PyObject *s = PyUnicode_New((Py_ssize_t)c->len[e], 127);
        if (!s) {
            Py_DECREF(out);
            return NULL;
        }
        memcpy(PyUnicode_1BYTE_DATA(s), c->arena + c->off[e], (size_t)c->len[e]);
        PyList_SET_ITEM(out, (Py_ssize_t)(e - from), s);
    }
    return out;
}

static PyObject *counter_feed(Counter *c, PyObject *arg) {
    if (c->failed) Py_RETURN_NONE;
    if (c->finished) {
        PyErr_SetString(PyExc_ValueError, "feed: the end of the file was already given");
        return NULL;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    size_t from = c->n;
    int64_t st = 0;
    if (b.len == 0) {
        c->finished = 1;
        Py_BEGIN_ALLOW_THREADS st = finish(c);
        Py_END_ALLOW_THREADS
    } else if (memchr(b.buf, '\r', (size_t)b.len)) {
        st = -1;
    } else {
        Py_BEGIN_ALLOW_THREADS st = feed_block(c, b.buf, (size_t)b.len);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&b);
    if (st == -2) return PyErr_NoMemory();
    if (st == -1) {
        c->failed = 1;
        Py_RETURN_NONE;
    }
    return new_keys(c, from);
}

static PyObject *counter_result(Counter *c, PyObject *unused) {
    if (c->failed || !c->finished) {
        PyErr_SetString(PyExc_ValueError, "result: the counter failed or has not seen the end of the file");
        return NULL;
    }
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (size_t e = 0; e < c->n; e++) {
        PyObject *s = PyUnicode_New((Py_ssize_t)c->len[e], 127);
        if (s) memcpy(PyUnicode_1BYTE_DATA(s), c->arena + c->off[e], (size_t)c->len[e]);
        PyObject *v = s ? PyLong_FromLongLong(c->count[e]) : NULL;
        if (!v || PyDict_SetItem(d, s, v) < 0) {
            Py_XDECREF(s);
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(s);
        Py_DECREF(v);
    }
    return Py_BuildValue("(NLL)", d, (long long)c->reads, (long long)c->max_len);
}

static int counter_init(Counter *c, PyObject *args, PyObject *kw) {
    if (!PyArg_ParseTuple(args, ":SequenceCounter")) return -1;
    if (c->nslots == 0 && grow_table(c) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void counter_dealloc(Counter *c) {
    free(c->arena);
    free(c->off);
    free(c->len);
    free(c->count);
    free(c->hash);
    free(c->slots);
    free(c->carry);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMethodDef counter_methods[] = {
    {"feed", (PyCFunction)counter_feed, METH_O,
     "feed(block) -> list[str] | None: the sequences first seen in this block, None when the bytes fail the "
     "checks; b'' ends the file."},
    {"result", (PyCFunction)counter_result, METH_NOARGS,
     "result() -> (counts: dict[str, int] in first-seen order, reads, longest sequence)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cgtqc.seq._fastq.SequenceCounter",
    .tp_basicsize = sizeof(Counter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Distinct sequences of FASTQ bytes fed block by block (the fast path of count_sequences).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)counter_init,
    .tp_dealloc = (destructor)counter_dealloc,
    .tp_methods = counter_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastq", "Compiled fast path of cgtqc.seq.fastq.count_sequences.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastq(void) {
    valid_base();
    if (PyType_Ready(&CounterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "SequenceCounter", (PyObject *)&CounterType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
