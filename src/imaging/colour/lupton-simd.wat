;; The float32 Lupton loop of lupton.ts (rgbF32), four pixels at a time in
;; WebAssembly SIMD. WebAssembly's f32x4 arithmetic rounds every operation to
;; float32 as numpy does, so each step below is the same float32 operation,
;; in the same order, as the Math.fround chain in rgbF32 and as astropy's
;; make_lupton_rgb; only asinh is computed in double precision (f64x2) and
;; rounded to float32, as there. lupton-simd.ts copies the planes in, calls
;; `rgb` and copies the bytes out; scripts/build-wasm.mjs turns this file into
;; lupton-simd.wasm.ts (the test checks the two agree).
;;
;; Memory (4 pages, 256 KiB), for up to CHUNK = 16384 pixels a call:
;;   R plane  at 0       (CHUNK float32)
;;   G plane  at 65536
;;   B plane  at 131072
;;   RGB out  at 196608  (3 bytes a pixel, and 4 spare: every store writes 16
;;                        bytes of which the next store overwrites the last 4)
(module
  (memory (export "memory") 4)

  ;; asinh(u) for u >= 0 in each double lane, within a few units in the last
  ;; place (the rounding to float32 that follows is what must be right).
  ;; Below 0.01: the odd series to u^7, the same expression as asinhPositive
  ;; in lupton.ts. Above: log(w), w = u + sqrt(1 + u^2); w = 2^k m with m in
  ;; [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m - 1)/(m + 1), |s| <
  ;; 0.172, summed to s^19 (the next term is below 1e-16 of the sum). For u
  ;; >= 2^27 the square swamps the 1 and w is 2u exactly, so nothing
  ;; overflows for any float32 u. An infinite u gives NaN, as the JavaScript
  ;; does, so such a pixel ends at 0 on both paths.
  ;; It sets $r = asinh($u), both f64x2, and is written once here but
  ;; pasted in twice by scripts/build-wasm.mjs wherever a line says
  ;; ";; @inline asinh": as a function, the call made V8 save and restore
  ;; every live vector around it, a quarter of the loop's time.
  (;@define asinh
    (local.set $u2 (f64x2.mul (local.get $u) (local.get $u)))
    (local.set $w (f64x2.add (local.get $u) (f64x2.sqrt (f64x2.add (v128.const f64x2 1 1) (local.get $u2)))))
    ;; The high word of w, shifted so that m lands in [sqrt(1/2), sqrt(2)).
    (local.set $hx (i64x2.add (i64x2.shr_u (local.get $w) (i32.const 32)) (v128.const i64x2 0x95f62 0x95f62)))
    (local.set $k (i64x2.sub (i64x2.shr_u (local.get $hx) (i32.const 20)) (v128.const i64x2 1023 1023)))
    (local.set $f
      (f64x2.sub
        (v128.or
          (i64x2.shl (i64x2.add (v128.and (local.get $hx) (v128.const i64x2 0xfffff 0xfffff)) (v128.const i64x2 0x3fe6a09e 0x3fe6a09e)) (i32.const 32))
          (v128.and (local.get $w) (v128.const i64x2 0xffffffff 0xffffffff)))
        (v128.const f64x2 1 1)))
    (local.set $s (f64x2.div (local.get $f) (f64x2.add (v128.const f64x2 2 2) (local.get $f))))
    (local.set $z (f64x2.mul (local.get $s) (local.get $s)))
    (local.set $p (v128.const f64x2 0.052631578947368418 0.052631578947368418))
    (local.set $p (f64x2.add (v128.const f64x2 0.058823529411764705 0.058823529411764705) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.066666666666666666 0.066666666666666666) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.076923076923076927 0.076923076923076927) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.090909090909090912 0.090909090909090912) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.11111111111111110 0.11111111111111110) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.14285714285714285 0.14285714285714285) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.20000000000000001 0.20000000000000001) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 0.33333333333333331 0.33333333333333331) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $p (f64x2.add (v128.const f64x2 1 1) (f64x2.mul (local.get $z) (local.get $p))))
    (local.set $r
      (v128.bitselect
        ;; u < 0.01: u - u u2 (1/6 - u2 (3/40 - u2 5/112))
        (f64x2.sub (local.get $u)
          (f64x2.mul (f64x2.mul (local.get $u) (local.get $u2))
            (f64x2.sub (v128.const f64x2 0.16666666666666666 0.16666666666666666)
              (f64x2.mul (local.get $u2)
                (f64x2.sub (v128.const f64x2 0.074999999999999997 0.074999999999999997)
                  (f64x2.mul (local.get $u2) (v128.const f64x2 0.044642857142857144 0.044642857142857144)))))))
        ;; k log 2 + 2 s P(s^2), plus (u - u): 0 for a finite u, NaN for an infinite one.
        (f64x2.add
          (f64x2.add
            (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.get $k) (local.get $k)))
                       (v128.const f64x2 0.69314718055994529 0.69314718055994529))
            (f64x2.mul (f64x2.add (local.get $s) (local.get $s)) (local.get $p)))
          (f64x2.sub (local.get $u) (local.get $u)))
        (f64x2.lt (local.get $u) (v128.const f64x2 0.01 0.01))))
  @end;)

  ;; n pixels (n <= CHUNK; the caller pads to a multiple of 4 with zeros).
  ;; The float32 minima, softening Q/stretch and slope 25.5/asinh(0.1 Q) come
  ;; already rounded to float32, as rgbF32 rounds them.
  (func (export "rgb") (param $n i32) (param $mr f32) (param $mg f32) (param $mb f32) (param $soften f32) (param $slope f32)
    (local $i i32) (local $o i32) (local $end i32)
    (local $xr v128) (local $xg v128) (local $xb v128) (local $I v128) (local $uf v128)
    (local $a v128) (local $fac v128) (local $cr v128) (local $cg v128) (local $cb v128)
    (local $sat v128) (local $top v128) (local $zero v128) (local $x v128)
    (local $vmr v128) (local $vmg v128) (local $vmb v128) (local $vsoften v128) (local $vslope v128)
    ;; asinh, per pair of lanes
    (local $u v128) (local $u2 v128) (local $w v128) (local $hx v128) (local $k v128)
    (local $f v128) (local $s v128) (local $z v128) (local $p v128) (local $r v128) (local $alo v128)
    (local.set $vmr (f32x4.splat (local.get $mr)))
    (local.set $vmg (f32x4.splat (local.get $mg)))
    (local.set $vmb (f32x4.splat (local.get $mb)))
    (local.set $vsoften (f32x4.splat (local.get $soften)))
    (local.set $vslope (f32x4.splat (local.get $slope)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $o (i32.const 196608))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        ;; x_c = X_c - m_c; an undefined X (x - x not 0) counts as 0.
        (local.set $x (f32x4.sub (v128.load (local.get $i)) (local.get $vmr)))
        (local.set $xr (v128.and (local.get $x) (f32x4.eq (f32x4.sub (local.get $x) (local.get $x)) (local.get $zero))))
        (local.set $x (f32x4.sub (v128.load offset=65536 (local.get $i)) (local.get $vmg)))
        (local.set $xg (v128.and (local.get $x) (f32x4.eq (f32x4.sub (local.get $x) (local.get $x)) (local.get $zero))))
        (local.set $x (f32x4.sub (v128.load offset=131072 (local.get $i)) (local.get $vmb)))
        (local.set $xb (v128.and (local.get $x) (f32x4.eq (f32x4.sub (local.get $x) (local.get $x)) (local.get $zero))))
        ;; I = ((x_r + x_g) + x_b) / 3;  u = I Q/s.
        (local.set $I (f32x4.div (f32x4.add (f32x4.add (local.get $xr) (local.get $xg)) (local.get $xb)) (v128.const f32x4 3 3 3 3)))
        (local.set $uf (f32x4.mul (local.get $I) (local.get $vsoften)))
        ;; asinh(u) in double precision for lanes 0-1 of uf, then lanes 2-3,
        ;; each rounded back to float32 (see the asinh macro above).
        (local.set $u (f64x2.promote_low_f32x4 (local.get $uf)))
        ;; @inline asinh
        (local.set $alo (f32x4.demote_f64x2_zero (local.get $r)))
        (local.set $u (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $uf) (local.get $uf))))
        ;; @inline asinh
        (local.set $a (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $alo) (f32x4.demote_f64x2_zero (local.get $r))))
        ;; fac = asinh(u) slope / I where I > 0, else 0.
        (local.set $fac
          (v128.and (f32x4.div (f32x4.mul (local.get $a) (local.get $vslope)) (local.get $I))
                    (f32x4.gt (local.get $I) (local.get $zero))))
        (local.set $cr (f32x4.mul (local.get $xr) (local.get $fac)))
        (local.set $cg (f32x4.mul (local.get $xg) (local.get $fac)))
        (local.set $cb (f32x4.mul (local.get $xb) (local.get $fac)))
        ;; Saturated pixels (any channel >= 255): c 255 / max(c), hue kept.
        (local.set $sat
          (v128.or (v128.or (f32x4.ge (local.get $cr) (v128.const f32x4 255 255 255 255))
                            (f32x4.ge (local.get $cg) (v128.const f32x4 255 255 255 255)))
                   (f32x4.ge (local.get $cb) (v128.const f32x4 255 255 255 255))))
        (if (v128.any_true (local.get $sat))
          (then
            (local.set $top (f32x4.max (f32x4.max (local.get $cr) (local.get $cg)) (local.get $cb)))
            (local.set $cr (v128.bitselect (f32x4.div (f32x4.mul (local.get $cr) (v128.const f32x4 255 255 255 255)) (local.get $top)) (local.get $cr) (local.get $sat)))
            (local.set $cg (v128.bitselect (f32x4.div (f32x4.mul (local.get $cg) (v128.const f32x4 255 255 255 255)) (local.get $top)) (local.get $cg) (local.get $sat)))
            (local.set $cb (v128.bitselect (f32x4.div (f32x4.mul (local.get $cb) (v128.const f32x4 255 255 255 255)) (local.get $top)) (local.get $cb) (local.get $sat)))))
        ;; Truncate toward zero (numpy's astype(uint8) after the clip at 0);
        ;; negatives and NaN become 0. Then R0 G0 B0 R1 G1 B1 ... from the
        ;; three [R0..R3] [G0..G3] [B0..B3] vectors.
        (v128.store (local.get $o)
          (i8x16.shuffle 0 4 8 1 5 9 2 6 10 3 7 11 12 13 14 15
            (i8x16.narrow_i16x8_u
              (i16x8.narrow_i32x4_u
                (i32x4.max_s (i32x4.trunc_sat_f32x4_s (local.get $cr)) (local.get $zero))
                (i32x4.max_s (i32x4.trunc_sat_f32x4_s (local.get $cg)) (local.get $zero)))
              (i16x8.narrow_i32x4_u
                (i32x4.max_s (i32x4.trunc_sat_f32x4_s (local.get $cb)) (local.get $zero))
                (local.get $zero)))
            (local.get $zero)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 12)))
        (br $pixels)))))
