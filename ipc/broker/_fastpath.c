/* The broker's fast path in C: ipc/broker/fastpath.py's run(), which is the reference
 * (read its docstrings first). Same arguments, same result; tests compare the two.
 *
 * Nothing here calls back into Python code: items come from msgpack (exact tuples,
 * exact str, bool singletons), dict keys are exact str, points and tallies are lists.
 * An item that is anything else makes run() stop there and leave it to the general
 * path; a malformed point or hop is a bug in the dispatcher and raises TypeError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *quality_good, *quality_uncertain, *quality_bad;
static PyObject *one;

static int
known_quality(PyObject *quality)
{
    if (!PyUnicode_CheckExact(quality))
        return 0;
    return PyUnicode_Compare(quality, quality_good) == 0
        || PyUnicode_Compare(quality, quality_uncertain) == 0
        || PyUnicode_Compare(quality, quality_bad) == 0;
}

/* msgpack of one scalar, as msgpack.packb(use_bin_type=True) writes it, into buf (at
 * least 9 bytes; a str is written as its header only, *text and *size say the rest).
 * Returns the length, 0 when the value is not one the fast path encodes (the general
 * path takes the item) and -1 with an exception on failure. */
static Py_ssize_t
encode_scalar(PyObject *v, unsigned char *buf, const char **text, Py_ssize_t *size)
{
    *text = NULL;
    *size = 0;
    if (v == Py_None) {
        buf[0] = 0xc0;
        return 1;
    }
    if (v == Py_True || v == Py_False) {
        buf[0] = v == Py_True ? 0xc3 : 0xc2;
        return 1;
    }
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long d = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (d == -1 && PyErr_Occurred())
            return -1;
        unsigned long long u;
        if (overflow < 0)
            return 0;
        if (overflow > 0) {
            u = PyLong_AsUnsignedLongLong(v);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();  /* beyond 64 bits: msgpack refuses, as the general path */
                return 0;
            }
        } else if (d < -32) {
            if (d >= -128) {
                buf[0] = 0xd0;
                buf[1] = (unsigned char)(signed char)d;
                return 2;
            }
            if (d >= -32768) {
                unsigned short x = (unsigned short)(short)d;
                buf[0] = 0xd1; buf[1] = x >> 8; buf[2] = x & 0xff;
                return 3;
            }
            if (d >= -2147483647LL - 1) {
                unsigned int x = (unsigned int)(int)d;
                buf[0] = 0xd2;
                for (int k = 0; k < 4; k++)
                    buf[1 + k] = (x >> (24 - 8 * k)) & 0xff;
                return 5;
            }
            unsigned long long x = (unsigned long long)d;
            buf[0] = 0xd3;
            for (int k = 0; k < 8; k++)
                buf[1 + k] = (x >> (56 - 8 * k)) & 0xff;
            return 9;
        } else if (d < 128) {
            buf[0] = (unsigned char)(signed char)d;  /* positive or negative fixint */
            return 1;
        } else {
            u = (unsigned long long)d;
        }
        if (u < 256) {
            buf[0] = 0xcc; buf[1] = (unsigned char)u;
            return 2;
        }
        if (u < 65536) {
            buf[0] = 0xcd; buf[1] = u >> 8; buf[2] = u & 0xff;
            return 3;
        }
        if (u < 4294967296ULL) {
            buf[0] = 0xce;
            for (int k = 0; k < 4; k++)
                buf[1 + k] = (u >> (24 - 8 * k)) & 0xff;
            return 5;
        }
        buf[0] = 0xcf;
        for (int k = 0; k < 8; k++)
            buf[1 + k] = (u >> (56 - 8 * k)) & 0xff;
        return 9;
    }
    if (PyFloat_CheckExact(v)) {
        double f = PyFloat_AS_DOUBLE(v);
        unsigned long long x;
        memcpy(&x, &f, 8);
        buf[0] = 0xcb;
        for (int k = 0; k < 8; k++)
            buf[1 + k] = (x >> (56 - 8 * k)) & 0xff;
        return 9;
    }
    if (PyUnicode_CheckExact(v)) {
        Py_ssize_t n;
        const char *utf8 = PyUnicode_AsUTF8AndSize(v, &n);
        if (utf8 == NULL) {
            PyErr_Clear();  /* lone surrogates: msgpack refuses them too */
            return 0;
        }
        *text = utf8;
        *size = n;
        if (n < 32) {
            buf[0] = 0xa0 | (unsigned char)n;
            return 1;
        }
        if (n < 256) {
            buf[0] = 0xd9; buf[1] = (unsigned char)n;
            return 2;
        }
        if (n < 65536) {
            buf[0] = 0xda; buf[1] = n >> 8; buf[2] = n & 0xff;
            return 3;
        }
        if ((unsigned long long)n >= 4294967296ULL)
            return 0;
        buf[0] = 0xdb;
        for (int k = 0; k < 4; k++)
            buf[1 + k] = ((unsigned long long)n >> (24 - 8 * k)) & 0xff;
        return 5;
    }
    return 0;
}

/* Queue one command, already encoded (head, value, ts, tail: see fastpath.py), and
 * count the route as fired; -1 with an exception on failure. */
static int
hop(PyObject *h, const unsigned char *vt, Py_ssize_t vt_len, const char *text,
    Py_ssize_t text_len, Py_ssize_t text_at, PyObject *ts)
{
    if (!PyTuple_CheckExact(h) || PyTuple_GET_SIZE(h) != 4
            || !PyList_CheckExact(PyTuple_GET_ITEM(h, 0))
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(h, 1))
            || !PyBytes_CheckExact(PyTuple_GET_ITEM(h, 2))
            || !PyList_CheckExact(PyTuple_GET_ITEM(h, 3))
            || PyList_GET_SIZE(PyTuple_GET_ITEM(h, 3)) != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "a hop is (list, head bytes, tail bytes, [fired, last_fired_ts])");
        return -1;
    }
    PyObject *head = PyTuple_GET_ITEM(h, 1), *tail = PyTuple_GET_ITEM(h, 2);
    Py_ssize_t nh = PyBytes_GET_SIZE(head), nt = PyBytes_GET_SIZE(tail);
    PyObject *command = PyBytes_FromStringAndSize(NULL, nh + vt_len + text_len + nt);
    if (command == NULL)
        return -1;
    char *out = PyBytes_AS_STRING(command);
    memcpy(out, PyBytes_AS_STRING(head), nh);
    out += nh;
    memcpy(out, vt, text_at);  /* the value's msgpack header */
    out += text_at;
    if (text_len) {
        memcpy(out, text, text_len);
        out += text_len;
    }
    memcpy(out, vt + text_at, vt_len - text_at);  /* the ts */
    out += vt_len - text_at;
    memcpy(out, PyBytes_AS_STRING(tail), nt);
    int failed = PyList_Append(PyTuple_GET_ITEM(h, 0), command);
    Py_DECREF(command);
    if (failed)
        return -1;
    PyObject *tally = PyTuple_GET_ITEM(h, 3);
    PyObject *fired = PyNumber_Add(PyList_GET_ITEM(tally, 0), one);
    if (fired == NULL)
        return -1;
    PyObject *old = PyList_GET_ITEM(tally, 0);
    PyList_SET_ITEM(tally, 0, fired);
    Py_DECREF(old);
    old = PyList_GET_ITEM(tally, 1);
    Py_INCREF(ts);
    PyList_SET_ITEM(tally, 1, ts);
    Py_DECREF(old);
    return 0;
}

static PyObject *
run(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "run(items, start, points, unsaved)");
        return NULL;
    }
    PyObject *items = args[0], *points = args[2], *unsaved = args[3];
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (!(PyTuple_Check(items) || PyList_Check(items)) || !PyDict_Check(points)
            || !PyList_Check(unsaved)) {
        PyErr_SetString(PyExc_TypeError, "run(tuple|list, int, dict, list)");
        return NULL;
    }
    Py_ssize_t i;
    for (i = start < 0 ? 0 : start; i < PySequence_Fast_GET_SIZE(items); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(items, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 6)
            break;
        PyObject *path = PyTuple_GET_ITEM(item, 0);
        if (!PyUnicode_CheckExact(path) || PyTuple_GET_ITEM(item, 4) != Py_True
                || !known_quality(PyTuple_GET_ITEM(item, 3)))
            break;
        PyObject *point = PyDict_GetItemWithError(points, path);  /* borrowed */
        if (point == NULL) {
            if (PyErr_Occurred())
                return NULL;
            break;
        }
        if (!PyList_CheckExact(point) || PyList_GET_SIZE(point) != 3) {
            PyErr_SetString(PyExc_TypeError, "a point is [entry, plan, unsaved]");
            return NULL;
        }
        PyObject *plan = PyList_GET_ITEM(point, 1);
        if (!PyTuple_CheckExact(plan))
            break;  /* None (the general path decides) or not planned yet */
        /* value and ts encoded once for all hops; one the fast path cannot encode goes
         * the general way, before anything of it is stored */
        unsigned char vt[18];
        const char *text, *ts_text;
        Py_ssize_t text_len, ts_len;
        PyObject *value = PyTuple_GET_ITEM(item, 1), *ts = PyTuple_GET_ITEM(item, 2);
        Py_ssize_t nv = encode_scalar(value, vt, &text, &text_len);
        if (nv < 0)
            return NULL;
        if (nv == 0 || !PyLong_CheckExact(ts))
            break;
        Py_ssize_t nts = encode_scalar(ts, vt + nv, &ts_text, &ts_len);
        if (nts < 0)
            return NULL;
        if (nts == 0)
            break;
        Py_INCREF(point);  /* borrowed from points; hold it across the calls below */
        Py_INCREF(plan);
        PyObject *old = PyList_GET_ITEM(point, 0);
        Py_INCREF(item);
        PyList_SET_ITEM(point, 0, item);
        Py_XDECREF(old);
        int failed = 0;
        if (PyList_GET_ITEM(point, 2) != Py_True) {
            PyObject *was = PyList_GET_ITEM(point, 2);
            Py_INCREF(Py_True);
            PyList_SET_ITEM(point, 2, Py_True);
            Py_XDECREF(was);
            failed = PyList_Append(unsaved, point);
        }
        for (Py_ssize_t k = 0; !failed && k < PyTuple_GET_SIZE(plan); k++)
            failed = hop(PyTuple_GET_ITEM(plan, k), vt, nv + nts, text, text_len, nv, ts);
        Py_DECREF(plan);
        Py_DECREF(point);
        if (failed)
            return NULL;
    }
    return PyLong_FromSsize_t(i);
}

/* The body of a CMD message when every queued command is pre-encoded (bytes): a msgpack
 * array of them, in one allocation. None when some are not (the caller packs those). */
static PyObject *
join(PyObject *Py_UNUSED(module), PyObject *items)
{
    if (!PyList_CheckExact(items)) {
        PyErr_SetString(PyExc_TypeError, "join(list)");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(items), total = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *c = PyList_GET_ITEM(items, k);
        if (!PyBytes_CheckExact(c))
            Py_RETURN_NONE;
        total += PyBytes_GET_SIZE(c);
    }
    if ((unsigned long long)n >= 4294967296ULL)
        Py_RETURN_NONE;
    unsigned char header[5];
    Py_ssize_t nh;
    if (n < 16) {
        header[0] = 0x90 | (unsigned char)n;
        nh = 1;
    } else if (n < 65536) {
        header[0] = 0xdc; header[1] = n >> 8; header[2] = n & 0xff;
        nh = 3;
    } else {
        header[0] = 0xdd;
        for (int k = 0; k < 4; k++)
            header[1 + k] = ((unsigned long long)n >> (24 - 8 * k)) & 0xff;
        nh = 5;
    }
    PyObject *body = PyBytes_FromStringAndSize(NULL, nh + total);
    if (body == NULL)
        return NULL;
    char *out = PyBytes_AS_STRING(body);
    memcpy(out, header, nh);
    out += nh;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *c = PyList_GET_ITEM(items, k);
        memcpy(out, PyBytes_AS_STRING(c), PyBytes_GET_SIZE(c));
        out += PyBytes_GET_SIZE(c);
    }
    return body;
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL,
     "run(items, start, points, unsaved) -> index: see edgeos.ipc.broker.fastpath.run"},
    {"join", (PyCFunction)join, METH_O,
     "join(commands) -> bytes | None: see edgeos.ipc.broker.fastpath.join"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastpath", "The broker's fast path in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    quality_good = PyUnicode_InternFromString("good");
    quality_uncertain = PyUnicode_InternFromString("uncertain");
    quality_bad = PyUnicode_InternFromString("bad");
    one = PyLong_FromLong(1);
    if (!quality_good || !quality_uncertain || !quality_bad || !one)
        return NULL;
    return PyModule_Create(&module);
}
