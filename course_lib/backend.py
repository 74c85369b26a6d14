"""Everything that differs between Keras backends, in one module.

Models, losses and training loops in course_lib are written with `keras` and
`keras.ops`, which run unchanged on TensorFlow, JAX and PyTorch. Keras hides
all but three things, and they live here:

    compile(fn, variables)    one compiled graph for a small function called at every
                              step (drawing a GAN's batches, one pixel of a sampling loop)
    value_and_grad(f)         gradients outside a Keras training step: gradient(f, x) is
                              df(x)/dx (the WGAN-GP penalty, PixelCNN's dependency map);
                              both can themselves be differentiated
    gpu_devices(), versions() what the report line at the top of every lesson prints

Nothing else in course_lib, the lessons or the tests imports a backend.
Adding a backend means adding one branch to each function below.
"""
import importlib
import numbers

import keras
from keras import ops

FRAMEWORKS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def name():
    """The Keras backend in use: "tensorflow", "jax" or "torch" (set by KERAS_BACKEND)."""
    return keras.backend.backend()


def _framework():
    backend = name()
    if backend not in FRAMEWORKS:
        raise NotImplementedError(f"course_lib.backend knows the backends {sorted(FRAMEWORKS)}; this Keras runs on "
                                  f"{backend!r}. Set KERAS_BACKEND to one of them before importing keras.")
    return importlib.import_module(FRAMEWORKS[backend])


# ----------------------------------------------------------------------------
# Devices and versions
# ----------------------------------------------------------------------------
def versions():
    """The backend framework and its version, e.g. "jax 0.10.2"."""
    return f"{name()} {_framework().__version__}"


def gpu_devices():
    """Names of the accelerators the Keras backend can see (empty on a CPU machine)."""
    framework, backend = _framework(), name()
    if backend == "tensorflow":
        return [d.name for d in framework.config.list_physical_devices("GPU")]
    if backend == "jax":
        return [str(d) for d in framework.devices() if d.platform != "cpu"]
    return [framework.cuda.get_device_name(i) for i in range(framework.cuda.device_count())]


def set_inter_op_threads(n):
    """TensorFlow's inter-op threads: how many independent ops run at once (before any op runs)."""
    if name() != "tensorflow":
        raise ValueError(f"inter-op threads are a TensorFlow setting; this Keras runs on {name()!r}")
    _framework().config.threading.set_inter_op_parallelism_threads(n)


# ----------------------------------------------------------------------------
# Gradients outside a Keras training step
# ----------------------------------------------------------------------------
def value_and_grad(f):
    """For f(params, *args) -> (loss, aux), the function (params, *args) -> ((loss, aux), dloss/dparams).

    `params` is a list of tensors: the values of the weights for a `stateless_call`, say, or the input
    whose gradient is wanted. The result can be differentiated again: inside a training step (the
    WGAN-GP penalty) the outer gradient flows through this one. Under JAX, f may update Keras
    variables only with values that do not depend on params (a dropout seed, yes; batch-norm
    statistics of params, no: a critic under a gradient penalty has none).
    """
    framework, backend = _framework(), name()
    if backend == "jax":
        return framework.value_and_grad(f, has_aux=True)

    def value_and_grad_f(params, *args):
        if backend == "tensorflow":
            params = [framework.convert_to_tensor(p) for p in params]
            with framework.GradientTape() as tape:
                tape.watch(params)
                loss, aux = f(params, *args)
            return (loss, aux), tape.gradient(loss, params, unconnected_gradients=framework.UnconnectedGradients.ZERO)
        params = [ops.convert_to_tensor(p) for p in params]
        params = [p if p.requires_grad else p.detach().requires_grad_(True) for p in params]
        loss, aux = f(params, *args)
        grads = framework.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        return (loss, aux), [ops.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    return value_and_grad_f


def gradient(f, x):
    """df(x)/dx, same shape as x, for a function f returning a scalar tensor (see value_and_grad)."""
    _, (grad,) = value_and_grad(lambda params: (f(params[0]), None))([ops.convert_to_tensor(x)])
    return grad


# ----------------------------------------------------------------------------
# Compiling a step function
# ----------------------------------------------------------------------------
def compile(fn, variables):
    """`fn` as one compiled graph, called like `fn`; Python numbers among its arguments are fixed per graph.

    `variables`: the Keras variables `fn` reads or assigns (a list, or a function returning
    one, evaluated at each call), e.g. a model's `variables` and a SeedGenerator's `state`.

    TensorFlow: tf.function, which follows variables by itself. JAX: jax.jit of a pure
    version of `fn` that takes the variables' values in and hands the assigned ones
    back (Keras' StatelessScope), then assigns them; a variable read or assigned but not
    listed is an error, since jit would otherwise freeze its current value into the graph.
    PyTorch: `fn` unchanged (eager).
    """
    backend = name()
    if backend == "tensorflow":
        return _framework().function(fn, reduce_retracing=True)
    if backend == "jax":
        return _JaxStep(fn, variables)
    return fn


class _WatchedScope(keras.StatelessScope):
    """A StatelessScope that notes every variable read or assigned that it was not given."""

    def __init__(self, state_mapping):
        super().__init__(state_mapping=state_mapping)
        self.given, self.missing = set(self.state_mapping), {}

    def get_current_value(self, variable):
        if id(variable) not in self.given:
            self.missing[id(variable)] = variable.path
        return super().get_current_value(variable)

    def add_update(self, update):
        variable, _ = update
        if id(variable) not in self.given:
            self.missing[id(variable)] = variable.path
        super().add_update(update)


class _JaxStep:
    """jax.jit of fn(*args) with the values of `variables` passed in and the assigned ones passed out."""

    def __init__(self, fn, variables):
        self.fn, self.variables, self.graphs = fn, variables, {}

    def __call__(self, *args):
        live = list(self.variables() if callable(self.variables) else self.variables)
        fixed = tuple((i, a) for i, a in enumerate(args) if a is None or isinstance(a, (numbers.Number, str)))
        key = (fixed, tuple(id(v) for v in live))
        if key not in self.graphs:
            self.graphs[key] = self._graph(fixed, live)
        dynamic = [a for i, a in enumerate(args) if i not in dict(fixed)]
        out, assigned = self.graphs[key]([v.value for v in live], dynamic)
        for variable, value in zip(live, assigned):
            if value is not None:
                variable.assign(value)
        return out

    def _graph(self, fixed, live):
        import jax

        def pure(values, dynamic):
            args, rest, where = [], iter(dynamic), dict(fixed)
            for i in range(len(fixed) + len(dynamic)):
                args.append(where[i] if i in where else next(rest))
            with _WatchedScope(list(zip(live, values))) as scope:
                before = [scope.state_mapping[id(v)] for v in live]
                out = self.fn(*args)
            if scope.missing:
                raise ValueError(f"backend.compile: {getattr(self.fn, '__name__', self.fn)} uses variables that "
                                 f"were not passed in `variables`: {sorted(scope.missing.values())}. Add them "
                                 "(e.g. model.variables, seed_generator.state).")
            after = [scope.state_mapping[id(v)] for v in live]
            return out, [new if new is not old else None for new, old in zip(after, before)]

        return jax.jit(pure)
