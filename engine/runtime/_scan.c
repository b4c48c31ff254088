/* One pass over a row of logits for the sampler's preselection (engine/runtime/scan.py says why).
 *
 * at_least(logits, threshold, out) -> (count, top)
 *     logits: float32, contiguous; out: int32, writable. Writes the indices of the logits >= threshold,
 *     ascending, into out (as many as fit) and returns how many there are (all of them, also past out's
 *     end) and the largest logit (NaN when the row holds a NaN).
 * select(logits, found, count, need, too_wide, touched, threshold, out) -> (n, nth)
 *     found[:count]: the ascending ids of the logits >= threshold (1 <= need <= count); touched: int32
 *     ids, ascending. nth: the need-th largest of found's logits. out gets found's ids (only those >= nth
 *     when count - need > too_wide * need) and, merged in ascending order, the touched ids whose logit is
 *     below the threshold kept (nth when narrowed); n: how many.
 * draw(apply, accept, chain, steps, split, array) -> token
 *     Runs a sampler chain on candidates already in a llama_token_data_array, as Python would through
 *     ctypes, one call instead of eight: steps[:split] (through top-k); then, when two of the candidates
 *     left have equal logits, returns -1 and goes no further (the caller runs those steps again on the
 *     whole vocabulary, engine/runtime/candidates.py says why); else steps[split:], and the selected
 *     token is accepted by the chain and returned (-2: none selected). apply, accept: the addresses of
 *     llama_sampler_apply and llama_sampler_accept; chain, steps: samplers' addresses; array: the address
 *     of the llama_token_data_array.
 * fill(logits, ids, data) -> None
 *     data: llama_token_data records (int32 id, float logit, float p; 12 bytes each), at least len(ids):
 *     record i gets (ids[i], logits[ids[i]], 0).
 *
 * Plain C with SSE2 (part of every x86-64 CPU, so no compiler flags) and a scalar loop elsewhere. The
 * module uses only the buffer protocol: no numpy headers at build time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define SCAN_SSE2 1
#endif

#ifdef SCAN_SSE2
#if defined(_MSC_VER)
#include <intrin.h>
static int lowest_bit(unsigned int mask) {
    unsigned long index;
    _BitScanForward(&index, mask);
    return (int)index;
}
#else
static int lowest_bit(unsigned int mask) { return __builtin_ctz(mask); }
#endif
#endif

/* Raised whenever a function's contract changes: engine/runtime/scan.py ignores a module built from an
 * older source (an in-place build left by an earlier checkout) rather than calling what it lacks. */
#define SCAN_VERSION 3

static Py_ssize_t scan(const float *x, Py_ssize_t n, float threshold, int32_t *out, Py_ssize_t cap, float *top) {
    Py_ssize_t count = 0, i = 0;
    float best = -INFINITY;
    int nan = 0;
#ifdef SCAN_SSE2
    const __m128 limit = _mm_set1_ps(threshold);
    __m128 most = _mm_set1_ps(-INFINITY), unordered = _mm_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        const __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
        const __m128 c = _mm_loadu_ps(x + i + 8), d = _mm_loadu_ps(x + i + 12);
        most = _mm_max_ps(most, _mm_max_ps(_mm_max_ps(a, b), _mm_max_ps(c, d)));
        /* (maxps drops a NaN: it is looked for on its own) */
        unordered = _mm_or_ps(unordered, _mm_or_ps(_mm_cmpunord_ps(a, b), _mm_cmpunord_ps(c, d)));
        unsigned int mask = (unsigned int)_mm_movemask_ps(_mm_cmpge_ps(a, limit)) |
                            (unsigned int)_mm_movemask_ps(_mm_cmpge_ps(b, limit)) << 4 |
                            (unsigned int)_mm_movemask_ps(_mm_cmpge_ps(c, limit)) << 8 |
                            (unsigned int)_mm_movemask_ps(_mm_cmpge_ps(d, limit)) << 12;
        while (mask) { /* rare: a preselection keeps a few hundred of 262,144 */
            if (count < cap) out[count] = (int32_t)(i + lowest_bit(mask));
            count++;
            mask &= mask - 1;
        }
    }
    float lanes[4];
    _mm_storeu_ps(lanes, most);
    for (int k = 0; k < 4; k++) best = lanes[k] > best ? lanes[k] : best;
    nan = _mm_movemask_ps(unordered) != 0;
#endif
    for (; i < n; i++) {
        const float value = x[i];
        if (value != value) nan = 1;
        else if (value > best) best = value;
        if (value >= threshold) {
            if (count < cap) out[count] = (int32_t)i;
            count++;
        }
    }
    *top = nan ? NAN : best;
    return count;
}

static int get_buffer(PyObject *object, Py_buffer *view, int writable, Py_ssize_t item, const char *what) {
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    if (view->len % item != 0) {
        PyErr_Format(PyExc_ValueError, "%s: a buffer of %zd-byte items expected", what, item);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *at_least(PyObject *self, PyObject *args) {
    PyObject *logits_object, *out_object;
    float threshold;
    Py_buffer logits, out;
    (void)self;
    if (!PyArg_ParseTuple(args, "OfO", &logits_object, &threshold, &out_object)) return NULL;
    if (get_buffer(logits_object, &logits, 0, 4, "logits") < 0) return NULL;
    if (get_buffer(out_object, &out, 1, 4, "out") < 0) {
        PyBuffer_Release(&logits);
        return NULL;
    }
    float top;
    Py_ssize_t count;
    /* (the GIL is kept: 80 us is less than handing it to another thread and waiting to get it back) */
    count = scan((const float *)logits.buf, logits.len / 4, threshold, (int32_t *)out.buf, out.len / 4, &top);
    PyBuffer_Release(&logits);
    PyBuffer_Release(&out);
    return Py_BuildValue("nd", count, (double)top);
}

/* The k-th smallest (0-based) of values[0..n): Hoare's quickselect, in place. */
static float kth_smallest(float *values, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t low = 0, high = n - 1;
    while (low < high) {
        const float pivot = values[low + (high - low) / 2];
        Py_ssize_t i = low, j = high;
        while (i <= j) {
            while (values[i] < pivot) i++;
            while (values[j] > pivot) j--;
            if (i <= j) {
                const float swap = values[i];
                values[i++] = values[j];
                values[j--] = swap;
            }
        }
        if (k <= j) high = j;
        else if (k >= i) low = i;
        else break;
    }
    return values[k];
}

static PyObject *select_ids(PyObject *self, PyObject *args) {
    PyObject *logits_object, *found_object, *touched_object, *out_object;
    Py_ssize_t count, need, too_wide;
    float threshold;
    Py_buffer logits, found, touched, out;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOnnnOfO", &logits_object, &found_object, &count, &need, &too_wide,
                          &touched_object, &threshold, &out_object))
        return NULL;
    if (get_buffer(logits_object, &logits, 0, 4, "logits") < 0) return NULL;
    if (get_buffer(found_object, &found, 0, 4, "found") < 0) goto fail_found;
    if (get_buffer(touched_object, &touched, 0, 4, "touched") < 0) goto fail_touched;
    if (get_buffer(out_object, &out, 1, 4, "out") < 0) goto fail_out;
    const Py_ssize_t n_vocab = logits.len / 4, n_touched = touched.len / 4;
    const float *logit = (const float *)logits.buf;
    const int32_t *ids = (const int32_t *)found.buf, *extra = (const int32_t *)touched.buf;
    int32_t *into = (int32_t *)out.buf;
    int ok = need >= 1 && need <= count && count <= found.len / 4 && count + n_touched <= out.len / 4;
    for (Py_ssize_t i = 0; ok && i < count; i++) ok = ids[i] >= 0 && ids[i] < n_vocab;
    for (Py_ssize_t i = 0; ok && i < n_touched; i++) ok = extra[i] >= 0 && extra[i] < n_vocab;
    float *values = ok ? PyMem_Malloc((size_t)count * sizeof(float)) : NULL;
    if (!ok || values == NULL) {
        PyBuffer_Release(&out);
        PyBuffer_Release(&touched);
        PyBuffer_Release(&found);
        PyBuffer_Release(&logits);
        if (ok) return PyErr_NoMemory();
        PyErr_SetString(PyExc_ValueError, "select: ids outside the row, or buffers too small");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) values[i] = logit[ids[i]];
    const float nth = kth_smallest(values, count, count - need);
    PyMem_Free(values);
    const int narrow = count - need > too_wide * need;
    const float kept = narrow ? nth : threshold;
    Py_ssize_t n = 0, t = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (narrow && !(logit[ids[i]] >= nth)) continue;
        for (; t < n_touched && extra[t] < ids[i]; t++)
            if (logit[extra[t]] < kept) into[n++] = extra[t];
        into[n++] = ids[i];
    }
    for (; t < n_touched; t++)
        if (logit[extra[t]] < kept) into[n++] = extra[t];
    PyBuffer_Release(&out);
    PyBuffer_Release(&touched);
    PyBuffer_Release(&found);
    PyBuffer_Release(&logits);
    return Py_BuildValue("nd", n, (double)nth);
fail_out:
    PyBuffer_Release(&touched);
fail_touched:
    PyBuffer_Release(&found);
fail_found:
    PyBuffer_Release(&logits);
    return NULL;
}

/* llama.h's candidate records and their array (the layout llama-cpp-python's ctypes mirror too). */
typedef struct {
    int32_t id;
    float logit;
    float p;
} token_data;
typedef struct {
    token_data *data;
    size_t size;
    int64_t selected;
    bool sorted;
} token_data_array;
typedef void (*apply_fn)(void *sampler, token_data_array *candidates);
typedef void (*accept_fn)(void *sampler, int32_t token);

static PyObject *draw(PyObject *self, PyObject *args) {
    unsigned long long apply_address, accept_address, chain, array_address;
    PyObject *steps;
    Py_ssize_t split;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKO!nK", &apply_address, &accept_address, &chain, &PyTuple_Type, &steps, &split,
                          &array_address))
        return NULL;
    const Py_ssize_t n_steps = PyTuple_GET_SIZE(steps);
    if (!apply_address || !accept_address || !chain || !array_address || split < 0 || split > n_steps) {
        PyErr_SetString(PyExc_ValueError, "draw: a null address or a split outside the chain");
        return NULL;
    }
    void *samplers[64];
    if (n_steps > 64) {
        PyErr_SetString(PyExc_ValueError, "draw: more than 64 steps");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n_steps; i++) {
        samplers[i] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(steps, i));
        if (samplers[i] == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "draw: a null sampler");
            return NULL;
        }
    }
    const apply_fn apply = (apply_fn)(uintptr_t)apply_address;
    token_data_array *candidates = (token_data_array *)(uintptr_t)array_address;
    for (Py_ssize_t i = 0; i < split; i++) apply(samplers[i], candidates);
    for (size_t i = 1; i < candidates->size; i++)
        if (candidates->data[i].logit == candidates->data[i - 1].logit) return PyLong_FromLong(-1);
    for (Py_ssize_t i = split; i < n_steps; i++) apply(samplers[i], candidates);
    const int64_t selected = candidates->selected;
    if (selected < 0 || (size_t)selected >= candidates->size) return PyLong_FromLong(-2);
    const int32_t token = candidates->data[selected].id;
    ((accept_fn)(uintptr_t)accept_address)((void *)(uintptr_t)chain, token);
    return PyLong_FromLong(token);
}

static PyObject *fill(PyObject *self, PyObject *args) {
    PyObject *logits_object, *ids_object, *data_object;
    Py_buffer logits, ids, data;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &logits_object, &ids_object, &data_object)) return NULL;
    if (get_buffer(logits_object, &logits, 0, 4, "logits") < 0) return NULL;
    if (get_buffer(ids_object, &ids, 0, 4, "ids") < 0) {
        PyBuffer_Release(&logits);
        return NULL;
    }
    if (get_buffer(data_object, &data, 1, 12, "data") < 0) {
        PyBuffer_Release(&logits);
        PyBuffer_Release(&ids);
        return NULL;
    }
    const Py_ssize_t n = ids.len / 4, n_vocab = logits.len / 4;
    const int32_t *token = (const int32_t *)ids.buf;
    const float *logit = (const float *)logits.buf;
    char *record = (char *)data.buf;
    int ok = data.len / 12 >= n;
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = token[i] >= 0 && token[i] < n_vocab;
    if (ok) {
        const float zero = 0.0f;
        for (Py_ssize_t i = 0; i < n; i++, record += 12) {
            memcpy(record, &token[i], 4);
            memcpy(record + 4, &logit[token[i]], 4);
            memcpy(record + 8, &zero, 4);
        }
    }
    PyBuffer_Release(&logits);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&data);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "fill: a token id outside the row, or too few records");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"at_least", at_least, METH_VARARGS, "(logits, threshold, out) -> (count, top): see the module's source."},
    {"select", select_ids, METH_VARARGS, "(logits, found, count, need, too_wide, touched, threshold, out) -> (n, nth)."},
    {"draw", draw, METH_VARARGS, "(apply, accept, chain, steps, split, array) -> token: see the module's source."},
    {"fill", fill, METH_VARARGS, "(logits, ids, data) -> None: llama_token_data records for ids."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The sampler preselection's passes over a row of logits (engine/runtime/scan.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddIntConstant(created, "VERSION", SCAN_VERSION) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
