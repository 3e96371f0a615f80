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

/* Queue one command and count the route as fired; -1 with an exception on failure. */
static int
hop(PyObject *h, PyObject *value, PyObject *ts)
{
    if (!PyTuple_CheckExact(h) || PyTuple_GET_SIZE(h) != 4
            || !PyList_CheckExact(PyTuple_GET_ITEM(h, 0))
            || !PyList_CheckExact(PyTuple_GET_ITEM(h, 3))
            || PyList_GET_SIZE(PyTuple_GET_ITEM(h, 3)) != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "a hop is (list, target path, origin, [fired, last_fired_ts])");
        return -1;
    }
    PyObject *command = PyTuple_Pack(4, PyTuple_GET_ITEM(h, 1), value, ts,
                                     PyTuple_GET_ITEM(h, 2));
    if (command == NULL)
        return -1;
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
        PyObject *value = PyTuple_GET_ITEM(item, 1), *ts = PyTuple_GET_ITEM(item, 2);
        for (Py_ssize_t k = 0; !failed && k < PyTuple_GET_SIZE(plan); k++)
            failed = hop(PyTuple_GET_ITEM(plan, k), value, ts);
        Py_DECREF(plan);
        Py_DECREF(point);
        if (failed)
            return NULL;
    }
    return PyLong_FromSsize_t(i);
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL,
     "run(items, start, points, unsaved) -> index: see edgeos.ipc.broker.fastpath.run"},
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
