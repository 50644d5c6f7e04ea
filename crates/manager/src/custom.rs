//! Custom types: a user's own type served by the manager, with the methods it exposes.
//!
//! Implement [`Exposed`] (by hand, or with the [`expose!`](crate::expose) macro) and
//! register the type on the [`Builder`](crate::Builder) before the server starts: the
//! server is forked from the registering process, so it has the type's code. A client
//! creates instances with [`Manager::create`](crate::Manager::create) and calls methods
//! through a [`CustomProxy`](crate::CustomProxy). As in CPython:
//!
//! * a method not in [`Exposed::EXPOSED`] is refused with
//!   [`RemoteKind::NotExposed`](crate::RemoteKind::NotExposed), whatever the type can do;
//! * an error returned by the method reaches the caller as
//!   [`RemoteKind::Method`](crate::RemoteKind::Method) with the error's text;
//! * arguments that do not decode into the method's parameter types are
//!   [`RemoteKind::TypeMismatch`](crate::RemoteKind::TypeMismatch).
//!
//! Tested by `tests/manager.rs` (an exposed method, a hidden one, a failing one).

use crate::wire::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Display;

/// Why a custom method call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The type has no such method.
    NoSuchMethod,
    /// The arguments do not fit the method's parameters.
    BadArgs(String),
    /// The method ran and returned an error (its text).
    Failed(String),
}

/// A type the manager can serve.
pub trait Exposed: Send + Sized + 'static {
    /// The type's name on the server (CPython's `typeid`).
    const TYPEID: &'static str;
    /// The methods callers may use; any other is refused.
    const EXPOSED: &'static [&'static str];
    /// Build an instance from the constructor arguments (a tuple).
    fn create(args: Value) -> Result<Self, String>;
    /// Call `method` with `args` (a tuple).
    fn call(&mut self, method: &str, args: Value) -> Result<Value, CallError>;
}

/// The object-safe face of [`Exposed`] the server stores.
pub trait DynExposed: Send {
    /// The type's name.
    fn typeid(&self) -> &'static str;
    /// Its exposed methods.
    fn exposed(&self) -> &'static [&'static str];
    /// Call a method.
    fn call(&mut self, method: &str, args: Value) -> Result<Value, CallError>;
}

impl<T: Exposed> DynExposed for T {
    fn typeid(&self) -> &'static str {
        T::TYPEID
    }
    fn exposed(&self) -> &'static [&'static str] {
        T::EXPOSED
    }
    fn call(&mut self, method: &str, args: Value) -> Result<Value, CallError> {
        Exposed::call(self, method, args)
    }
}

/// A constructor the server keeps for a registered type.
pub(crate) type Ctor = fn(Value) -> Result<Box<dyn DynExposed>, String>;

pub(crate) fn ctor<T: Exposed>(args: Value) -> Result<Box<dyn DynExposed>, String> {
    Ok(Box::new(T::create(args)?))
}

/// The arguments of a call as a list (helper for [`expose!`](crate::expose)).
pub fn arg_list(args: Value) -> Vec<Value> {
    match args {
        Value::Tuple(v) | Value::List(v) => v,
        Value::None => Vec::new(),
        other => vec![other],
    }
}

/// Decode argument `i` of `method` (helper for [`expose!`](crate::expose)).
pub fn arg<T: DeserializeOwned>(
    it: &mut impl Iterator<Item = Value>,
    method: &str,
    i: usize,
) -> Result<T, CallError> {
    let v = it
        .next()
        .ok_or_else(|| CallError::BadArgs(format!("{method}(): argument {i} missing")))?;
    serde_pickle::from_value(v)
        .map_err(|e| CallError::BadArgs(format!("{method}(): argument {i}: {e}")))
}

/// Check that no argument is left over (helper for [`expose!`](crate::expose)).
pub fn no_more_args(it: &mut impl Iterator<Item = Value>, method: &str) -> Result<(), CallError> {
    match it.next() {
        None => Ok(()),
        Some(_) => Err(CallError::BadArgs(format!(
            "{method}(): too many arguments"
        ))),
    }
}

/// Encode a method's result (helper for [`expose!`](crate::expose)).
pub fn result<R: Serialize, E: Display>(r: Result<R, E>) -> Result<Value, CallError> {
    match r {
        Ok(v) => serde_pickle::to_value(&v).map_err(|e| CallError::Failed(e.to_string())),
        Err(e) => Err(CallError::Failed(e.to_string())),
    }
}

/// Implement [`Exposed`] for a type from a list of its methods: each listed method takes
/// `&mut self` and arguments that deserialize, and returns `Result<R, E>` with `R:
/// Serialize` and `E: Display`. Methods not listed are not callable remotely.
///
/// ```
/// use procshare_manager::expose;
///
/// struct Counter { n: i64 }
/// impl Counter {
///     fn add(&mut self, k: i64) -> Result<i64, String> { self.n += k; Ok(self.n) }
///     fn secret(&mut self) -> Result<i64, String> { Ok(42) } // not exposed
/// }
/// expose! {
///     Counter as "Counter" {
///         new(start: i64) => Counter { n: start };
///         fn add(k: i64) -> i64;
///     }
/// }
/// ```
#[macro_export]
macro_rules! expose {
    ($ty:ty as $typeid:literal {
        new($($carg:ident : $cty:ty),* $(,)?) => $ctor:expr;
        $(fn $m:ident($($a:ident : $aty:ty),* $(,)?) -> $ret:ty;)*
    }) => {
        impl $crate::Exposed for $ty {
            const TYPEID: &'static str = $typeid;
            const EXPOSED: &'static [&'static str] = &[$(stringify!($m)),*];
            #[allow(unused_mut, unused_variables, clippy::redundant_field_names)]
            fn create(args: $crate::wire::Value) -> ::std::result::Result<Self, String> {
                let mut it = $crate::custom::arg_list(args).into_iter();
                let mut i = 0usize;
                $(
                    let $carg: $cty = $crate::custom::arg(&mut it, "new", i)
                        .map_err(|e| format!("{e:?}"))?;
                    i += 1;
                )*
                $crate::custom::no_more_args(&mut it, "new").map_err(|e| format!("{e:?}"))?;
                Ok($ctor)
            }
            #[allow(unused_mut, unused_variables, unused_assignments)]
            fn call(
                &mut self,
                method: &str,
                args: $crate::wire::Value,
            ) -> ::std::result::Result<$crate::wire::Value, $crate::custom::CallError> {
                let mut it = $crate::custom::arg_list(args).into_iter();
                match method {
                    $(stringify!($m) => {
                        let mut i = 0usize;
                        $(
                            let $a: $aty = $crate::custom::arg(&mut it, method, i)?;
                            i += 1;
                        )*
                        $crate::custom::no_more_args(&mut it, method)?;
                        let r: ::std::result::Result<$ret, _> = self.$m($($a),*);
                        $crate::custom::result(r)
                    })*
                    _ => Err($crate::custom::CallError::NoSuchMethod),
                }
            }
        }
    };
}
