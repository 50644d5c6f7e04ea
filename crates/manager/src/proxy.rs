//! Typed proxies: handles to objects on the manager's server.
//!
//! A proxy is an `Arc` around one server reference: cloning it is cheap (no request) and
//! the reference is dropped (one `Decref` over the process's anchor connection) when the
//! last clone in the process goes. Every method is one request, applied whole on the
//! server; a method that reads and writes (`fetch_add`, `compare_and_swap`,
//! `get_or_insert`, `insert` returning the old value) is atomic.
//!
//! A proxy is serialised as a reference (`("__procshare_proxy__", typeid, id)`), so a
//! proxy stored in a managed dict or list comes back as a proxy to the same object, and an
//! update through it is kept (CPython loses updates made to a plain nested dict). It can
//! only be deserialised from a manager's reply, where the server has already taken the
//! reference for the receiving process.
//!
//! After `fork`, a proxy inherited from the parent takes its own reference (for the
//! child's session) on first use and talks over the child's own connection; if it is
//! never used in the child, the child never touches the parent's reference.
//!
//! `Display` and `Debug` print the object the way Python prints it
//! (`{'a': 10, 'b': 20}`, `[('ann', 90)]`, `Namespace(x=1)`), with one request.

use crate::client::{pid, Core};
use crate::error::{Error, Result};
use crate::link::KEEP_OUT;
use crate::wire::{encode_call_into, pickle_into, Request, PROXY_TAG};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

thread_local! {
    /// This thread's buffers for encoding a call (the pickled arguments, the request),
    /// taken for a call and given back after it (unless grown past [`KEEP_OUT`]), so
    /// that a call allocates neither; a call made while another is being made on the
    /// thread gets fresh ones.
    static CALL_BUFS: Cell<Option<(Vec<u8>, Vec<u8>)>> = const { Cell::new(None) };

    /// The manager whose reply is being decoded (proxies inside it attach to it).
    static DECODING: RefCell<Option<Arc<Core>>> = const { RefCell::new(None) };
}

/// One server reference, shared by a proxy's clones in one process.
#[doc(hidden)]
pub struct ProxyCore {
    core: Arc<Core>,
    id: u64,
    typeid: String,
    /// The process that holds the reference (the one that created or received the proxy,
    /// or a forked child once it used it).
    owner: AtomicU32,
}

impl ProxyCore {
    pub(crate) fn new(core: Arc<Core>, id: u64, typeid: &str) -> Arc<ProxyCore> {
        Arc::new(ProxyCore {
            core,
            id,
            typeid: typeid.to_string(),
            owner: AtomicU32::new(pid()),
        })
    }

    /// In a process that did not take this reference (a forked child), take one.
    fn ensure_owned(&self) -> Result<()> {
        let me = pid();
        if self.owner.load(Ordering::Acquire) != me {
            self.core.anchor_request(&Request::Incref { id: self.id })?;
            self.owner.store(me, Ordering::Release);
        }
        Ok(())
    }

    pub(crate) fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        args: A,
    ) -> Result<R> {
        self.ensure_owned()?;
        let (mut pickled, mut request) = CALL_BUFS
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default();
        pickle_into(&args, &mut pickled).map_err(Error::codec)?;
        encode_call_into(self.id, method, &pickled, &mut request);
        let reply = self.core.request_bytes(&request);
        if pickled.capacity().max(request.capacity()) <= KEEP_OUT {
            let _ = CALL_BUFS.try_with(|c| c.set(Some((pickled, request))));
        }
        decode(&self.core, &reply?)
    }
}

impl Drop for ProxyCore {
    fn drop(&mut self) {
        if self.owner.load(Ordering::Acquire) == pid() {
            // A server that is gone has dropped the reference with everything else.
            let _ = self.core.anchor_request(&Request::Decref { id: self.id });
        }
    }
}

/// Decode a reply; proxies inside it attach to `core`.
pub(crate) fn decode<R: DeserializeOwned>(core: &Arc<Core>, bytes: &[u8]) -> Result<R> {
    // Plain data (what the server writes) is decoded directly, anything else after the
    // guard (`plain_pickle::from_slice`).
    let previous = DECODING.with(|d| d.replace(Some(core.clone())));
    let r = procshare_connection::plain_pickle::from_slice(bytes).map_err(Error::codec);
    DECODING.with(|d| *d.borrow_mut() = previous);
    r
}

fn serialize_ref<S: Serializer>(p: &ProxyCore, s: S) -> std::result::Result<S::Ok, S::Error> {
    (PROXY_TAG, p.typeid.as_str(), p.id).serialize(s)
}

fn deserialize_ref<'de, D: Deserializer<'de>>(
    d: D,
    expected: &[&str],
) -> std::result::Result<Arc<ProxyCore>, D::Error> {
    use serde::de::Error as _;
    let (tag, typeid, id) = <(String, String, u64)>::deserialize(d)?;
    if tag != PROXY_TAG {
        return Err(D::Error::custom("not a proxy reference"));
    }
    if !expected.is_empty() && !expected.contains(&typeid.as_str()) {
        return Err(D::Error::custom(format!(
            "a proxy to a {typeid:?}, not a {}",
            expected.join(" or ")
        )));
    }
    let core = DECODING
        .with(|c| c.borrow().clone())
        .ok_or_else(|| D::Error::custom("a proxy can only be decoded from a manager reply"))?;
    Ok(ProxyCore::new(core, id, &typeid))
}

/// A proxy type: what [`Manager::attach`](crate::Manager::attach) can build from an id.
pub trait ProxyType: Sized {
    /// The server types it may stand for (empty: any).
    const TYPEIDS: &'static [&'static str];
    #[doc(hidden)]
    fn from_proxy_core(p: Arc<ProxyCore>) -> Self;
}

/// Defines a proxy type's common parts: Clone, id, Serialize/Deserialize as a reference.
macro_rules! proxy_type {
    ($(#[$m:meta])* $name:ident [$($g:ident),*] $typeids:expr) => {
        $(#[$m])*
        pub struct $name<$($g),*> {
            pub(crate) p: Arc<ProxyCore>,
            _t: PhantomData<fn() -> ($($g,)*)>,
        }

        impl<$($g),*> $name<$($g),*> {
            pub(crate) fn from_core(p: Arc<ProxyCore>) -> Self {
                $name { p, _t: PhantomData }
            }

            /// The object's id on the server.
            pub fn id(&self) -> u64 {
                self.p.id
            }
        }

        impl<$($g),*> ProxyType for $name<$($g),*> {
            const TYPEIDS: &'static [&'static str] = $typeids;
            fn from_proxy_core(p: Arc<ProxyCore>) -> Self {
                Self::from_core(p)
            }
        }

        impl<$($g),*> Clone for $name<$($g),*> {
            fn clone(&self) -> Self {
                Self::from_core(self.p.clone())
            }
        }

        impl<$($g),*> Serialize for $name<$($g),*> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                serialize_ref(&self.p, s)
            }
        }

        impl<'de, $($g),*> Deserialize<'de> for $name<$($g),*> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                Ok(Self::from_core(deserialize_ref(d, $typeids)?))
            }
        }
    };
}

/// Display/Debug through the server's `repr`.
macro_rules! python_display {
    ($name:ident [$($g:ident),*]) => {
        impl<$($g),*> $name<$($g),*> {
            /// The object as Python prints it (one request).
            pub fn repr(&self) -> Result<String> {
                self.p.call("repr", ())
            }
        }

        impl<$($g),*> fmt::Display for $name<$($g),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.repr() {
                    Ok(s) => f.write_str(&s),
                    Err(e) => write!(f, "<{} id {} unreachable: {e}>", stringify!($name), self.p.id),
                }
            }
        }

        impl<$($g),*> fmt::Debug for $name<$($g),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

proxy_type!(
    /// A dict on the manager's server, in insertion order (CPython's `DictProxy`).
    DictProxy [K, V] &["dict"]
);
python_display!(DictProxy[K, V]);

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let v: Vec<V> = self.p.call("get", (key,))?;
        Ok(v.into_iter().next())
    }

    /// Set `key` to `value`; the old value, if any (a key keeps its place).
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>> {
        let v: Vec<V> = self.p.call("insert", (&key, &value))?;
        Ok(v.into_iter().next())
    }

    /// Remove `key`; its value, if it was there.
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        let v: Vec<V> = self.p.call("remove", (key,))?;
        Ok(v.into_iter().next())
    }

    /// Is `key` there?
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        self.p.call("contains_key", (key,))
    }

    /// The number of entries.
    pub fn len(&self) -> Result<usize> {
        self.p.call("len", ())
    }

    /// Is it empty?
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The keys, in insertion order (one snapshot).
    pub fn keys(&self) -> Result<Vec<K>> {
        self.p.call("keys", ())
    }

    /// The values, in insertion order (one snapshot).
    pub fn values(&self) -> Result<Vec<V>> {
        self.p.call("values", ())
    }

    /// The entries, in insertion order (one snapshot).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.p.call("items", ())
    }

    /// Insert every pair, all in one request (all or none: a bad key inserts nothing).
    pub fn update(&self, pairs: impl IntoIterator<Item = (K, V)>) -> Result<()> {
        let pairs: Vec<(K, V)> = pairs.into_iter().collect();
        self.p.call("update", (pairs,))
    }

    /// Remove every entry.
    pub fn clear(&self) -> Result<()> {
        self.p.call("clear", ())
    }

    /// The value of `key`, inserting `default` first if it is missing (atomically:
    /// Python's `setdefault`).
    pub fn get_or_insert(&self, key: K, default: V) -> Result<V> {
        self.p.call("get_or_insert", (&key, &default))
    }
}

proxy_type!(
    /// A list on the manager's server (CPython's `ListProxy`).
    ListProxy [T] &["list"]
);
python_display!(ListProxy[T]);

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Append `item`.
    pub fn push(&self, item: T) -> Result<()> {
        self.p.call("push", (&item,))
    }

    /// The item at `index` ([`RemoteKind::IndexError`](crate::RemoteKind::IndexError)
    /// past the end).
    pub fn get(&self, index: usize) -> Result<T> {
        self.p.call("get", (index,))
    }

    /// Replace the item at `index`.
    pub fn set(&self, index: usize, item: T) -> Result<()> {
        self.p.call("set", (index, &item))
    }

    /// The number of items.
    pub fn len(&self) -> Result<usize> {
        self.p.call("len", ())
    }

    /// Is it empty?
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Remove and return the last item, if any.
    pub fn pop(&self) -> Result<Option<T>> {
        let v: Vec<T> = self.p.call("pop", ())?;
        Ok(v.into_iter().next())
    }

    /// Append every item, in one request.
    pub fn extend(&self, items: impl IntoIterator<Item = T>) -> Result<()> {
        let items: Vec<T> = items.into_iter().collect();
        self.p.call("extend", (items,))
    }

    /// Insert `item` before `index` (`index == len` appends).
    pub fn insert(&self, index: usize, item: T) -> Result<()> {
        self.p.call("insert", (index, &item))
    }

    /// Remove and return the item at `index`.
    pub fn remove(&self, index: usize) -> Result<T> {
        self.p.call("remove", (index,))
    }

    /// Remove every item.
    pub fn clear(&self) -> Result<()> {
        self.p.call("clear", ())
    }

    /// A snapshot of every item.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.p.call("to_vec", ())
    }
}

proxy_type!(
    /// A namespace on the manager's server: attributes by name (CPython's
    /// `Manager().Namespace()`).
    NamespaceProxy [] &["namespace"]
);
python_display!(NamespaceProxy[]);

impl NamespaceProxy {
    /// The attribute `name` ([`RemoteKind::KeyError`](crate::RemoteKind::KeyError) if
    /// unset).
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.p.call("get", (name,))
    }

    /// Set the attribute `name`.
    pub fn set<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        self.p.call("set", (name, value))
    }

    /// Delete the attribute `name`.
    pub fn del(&self, name: &str) -> Result<()> {
        self.p.call("del", (name,))
    }

    /// The attributes' names, in the order they were first set.
    pub fn names(&self) -> Result<Vec<String>> {
        self.p.call("names", ())
    }
}

proxy_type!(
    /// One value on the manager's server (CPython's `Manager().Value`), with atomic
    /// server-side `fetch_add` and `compare_and_swap`.
    ValueProxy [T] &["value"]
);
python_display!(ValueProxy[T]);

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// The value.
    pub fn get(&self) -> Result<T> {
        self.p.call("get", ())
    }

    /// Replace the value.
    pub fn set(&self, value: T) -> Result<()> {
        self.p.call("set", (&value,))
    }

    /// Add `delta` on the server, atomically; the value before. Numbers only
    /// ([`RemoteKind::TypeMismatch`](crate::RemoteKind::TypeMismatch) otherwise,
    /// [`RemoteKind::Overflow`](crate::RemoteKind::Overflow) past `i64`).
    pub fn fetch_add(&self, delta: T) -> Result<T> {
        self.p.call("fetch_add", (&delta,))
    }

    /// If the value equals `current`, replace it with `new`, atomically. Returns the value
    /// before: equal to `current` exactly when the swap happened.
    pub fn compare_and_swap(&self, current: T, new: T) -> Result<T> {
        self.p.call("compare_and_swap", (&current, &new))
    }
}

fn secs(t: Option<Duration>) -> Option<f64> {
    t.map(|d| d.as_secs_f64())
}

proxy_type!(
    /// A `Lock` on the manager's server: the local [`Lock`](procshare_sync::Lock)'s
    /// methods and errors. Ownerless, as CPython's: any client may release it.
    LockProxy [] &["lock"]
);

impl LockProxy {
    /// Acquire, waiting as long as it takes.
    pub fn acquire(&self) -> Result<()> {
        self.p
            .call::<_, bool>("acquire", (None::<f64>,))
            .map(|_| ())
    }
    /// Acquire if free now.
    pub fn try_acquire(&self) -> Result<bool> {
        self.p.call("try_acquire", ())
    }
    /// Acquire, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.p.call("acquire", (secs(Some(timeout)),))
    }
    /// Release ([`SyncError::NotLocked`](procshare_sync::SyncError::NotLocked) if it is
    /// not locked).
    pub fn release(&self) -> Result<()> {
        self.p.call("release", ())
    }
    /// Is it held by anyone?
    pub fn is_locked(&self) -> Result<bool> {
        self.p.call("is_locked", ())
    }
}

proxy_type!(
    /// An `RLock` on the manager's server, owned by the client thread that acquired it
    /// (released for it if its connection closes).
    RLockProxy [] &["rlock"]
);

impl RLockProxy {
    /// Acquire (again, if this thread holds it).
    pub fn acquire(&self) -> Result<()> {
        self.p
            .call::<_, bool>("acquire", (None::<f64>,))
            .map(|_| ())
    }
    /// Acquire if possible now.
    pub fn try_acquire(&self) -> Result<bool> {
        self.p.call("try_acquire", ())
    }
    /// Acquire, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.p.call("acquire", (secs(Some(timeout)),))
    }
    /// Release once ([`SyncError::NotOwner`](procshare_sync::SyncError::NotOwner) from a
    /// thread that does not hold it).
    pub fn release(&self) -> Result<()> {
        self.p.call("release", ())
    }
}

proxy_type!(
    /// A `Semaphore` or `BoundedSemaphore` on the manager's server.
    SemaphoreProxy [] &["semaphore", "bounded_semaphore"]
);

impl SemaphoreProxy {
    /// Take a unit, waiting as long as it takes.
    pub fn acquire(&self) -> Result<()> {
        self.p
            .call::<_, bool>("acquire", (None::<f64>,))
            .map(|_| ())
    }
    /// Take a unit if one is there now.
    pub fn try_acquire(&self) -> Result<bool> {
        self.p.call("try_acquire", ())
    }
    /// Take a unit, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.p.call("acquire", (secs(Some(timeout)),))
    }
    /// Give a unit back ([`SyncError::ReleasedTooManyTimes`](procshare_sync::SyncError)
    /// past a bounded semaphore's bound).
    pub fn release(&self) -> Result<()> {
        self.p.call("release", ())
    }
    /// The current count.
    pub fn value(&self) -> Result<u32> {
        self.p.call("value", ())
    }
}

proxy_type!(
    /// A `Condition` (over an `RLock`) on the manager's server.
    ConditionProxy [] &["condition"]
);

impl ConditionProxy {
    /// Acquire the condition's lock.
    pub fn acquire(&self) -> Result<()> {
        self.p
            .call::<_, bool>("acquire", (None::<f64>,))
            .map(|_| ())
    }
    /// Release the condition's lock.
    pub fn release(&self) -> Result<()> {
        self.p.call("release", ())
    }
    /// Wait for a notification (the lock must be held), at most `timeout`: false if it
    /// timed out.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.p.call("wait", (secs(timeout),))
    }
    /// Wake up to `n` waiters; how many were woken.
    pub fn notify(&self, n: usize) -> Result<usize> {
        self.p.call("notify", (n,))
    }
    /// Wake every waiter; how many were woken.
    pub fn notify_all(&self) -> Result<usize> {
        self.p.call("notify_all", ())
    }
}

proxy_type!(
    /// An `Event` on the manager's server.
    EventProxy [] &["event"]
);

impl EventProxy {
    /// Set the flag, waking every waiter.
    pub fn set(&self) -> Result<()> {
        self.p.call("set", ())
    }
    /// Clear the flag.
    pub fn clear(&self) -> Result<()> {
        self.p.call("clear", ())
    }
    /// Is the flag set?
    pub fn is_set(&self) -> Result<bool> {
        self.p.call("is_set", ())
    }
    /// Wait until the flag is set, at most `timeout`: the flag.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        self.p.call("wait", (secs(timeout),))
    }
}

proxy_type!(
    /// A `Barrier` on the manager's server.
    BarrierProxy [] &["barrier"]
);

impl BarrierProxy {
    /// Wait for every party; this party's index (0 ..parties).
    pub fn wait(&self) -> Result<u32> {
        self.p.call("wait", (None::<f64>,))
    }
    /// Wait at most `timeout` (a timeout breaks the barrier, as in CPython).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.p.call("wait", (secs(Some(timeout)),))
    }
    /// Reset to its initial state (waiters get `BrokenBarrier`).
    pub fn reset(&self) -> Result<()> {
        self.p.call("reset", ())
    }
    /// Break it.
    pub fn abort(&self) -> Result<()> {
        self.p.call("abort", ())
    }
    /// The number of parties.
    pub fn parties(&self) -> Result<u32> {
        self.p.call("parties", ())
    }
    /// How many parties wait now.
    pub fn n_waiting(&self) -> Result<u32> {
        self.p.call("n_waiting", ())
    }
    /// Is it broken?
    pub fn is_broken(&self) -> Result<bool> {
        self.p.call("is_broken", ())
    }
}

proxy_type!(
    /// A proxy to an object of a registered custom type (see [`Exposed`](crate::Exposed)).
    CustomProxy [] &[]
);

impl CustomProxy {
    /// The object's type name on the server.
    pub fn typeid(&self) -> &str {
        &self.p.typeid
    }

    /// Call the exposed `method` with the argument tuple `args`.
    pub fn call<A: Serialize, R: DeserializeOwned>(&self, method: &str, args: A) -> Result<R> {
        self.p.call(method, args)
    }
}

impl fmt::Debug for CustomProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}Proxy object, id {}>", self.p.typeid, self.p.id)
    }
}

/// The methods both queue proxies share.
macro_rules! queue_methods {
    ($name:ident) => {
        impl<T: Serialize + DeserializeOwned> $name<T> {
            /// Put `item`, waiting for room as long as it takes.
            pub fn put(&self, item: T) -> Result<()> {
                self.p.call("put", (&item, None::<f64>))
            }
            /// Put `item`, waiting for room at most `timeout`
            /// ([`QueueError::Full`](procshare_queue::QueueError::Full) after it).
            pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<()> {
                self.p.call("put", (&item, secs(Some(timeout))))
            }
            /// Put `item` if there is room now.
            pub fn try_put(&self, item: T) -> Result<()> {
                self.p.call("try_put", (&item,))
            }
            /// Take the next item, waiting as long as it takes.
            pub fn get(&self) -> Result<T> {
                self.p.call("get", (None::<f64>,))
            }
            /// Take the next item, waiting at most `timeout`
            /// ([`QueueError::Empty`](procshare_queue::QueueError::Empty) after it).
            pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
                self.p.call("get", (secs(Some(timeout)),))
            }
            /// Take an item if one is there now.
            pub fn try_get(&self) -> Result<T> {
                self.p.call("try_get", ())
            }
            /// Approximate number of items (CPython's `qsize()`).
            pub fn qsize(&self) -> Result<usize> {
                self.p.call("qsize", ())
            }
            /// Is it (approximately) empty?
            pub fn is_empty(&self) -> Result<bool> {
                self.p.call("is_empty", ())
            }
            /// Is it (approximately) full?
            pub fn is_full(&self) -> Result<bool> {
                self.p.call("is_full", ())
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "<{} object, id {}>", stringify!($name), self.p.id)
            }
        }
    };
}

proxy_type!(
    /// A `Queue` on the manager's server (its ring lives in the server): the local
    /// [`Queue`](procshare_queue::Queue)'s methods and errors.
    QueueProxy [T] &["queue", "joinable_queue"]
);
queue_methods!(QueueProxy);

proxy_type!(
    /// A `JoinableQueue` on the manager's server.
    JoinableQueueProxy [T] &["joinable_queue"]
);
queue_methods!(JoinableQueueProxy);

impl<T> JoinableQueueProxy<T> {
    /// One task taken from the queue is done
    /// ([`QueueError::TaskDone`](procshare_queue::QueueError::TaskDone) if called more
    /// times than items were put).
    pub fn task_done(&self) -> Result<()> {
        self.p.call("task_done", ())
    }
    /// Wait until every item put has been taken and marked done.
    pub fn join(&self) -> Result<()> {
        self.p.call::<_, bool>("join", (None::<f64>,)).map(|_| ())
    }
    /// [`join`](JoinableQueueProxy::join), waiting at most `timeout`: true if every task
    /// was done.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.p.call("join", (secs(Some(timeout)),))
    }
    /// Tasks put and not yet done.
    pub fn unfinished_tasks(&self) -> Result<u64> {
        self.p.call("unfinished_tasks", ())
    }
}
