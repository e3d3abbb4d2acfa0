;; arcinvert's own SIMD kernels for tfjs-backend-wasm: memory-bound work in one pass where tfjs
;; composes several. The module imports the backend's own memory, so it reads and writes
;; tensors where they lie (byte offsets into the heap). Every tensor is channels last, rows of
;; C float32 with C a multiple of 4; `simd.ts` checks that before calling, and builds this file
;; into `kernels.ts` (`npm run build:simd`).
(module
  (import "env" "memory" (memory 0))

  ;; PReLU's input gradient: dx = dy where x > 0, else dy·alpha[c]. rows × c elements.
  (func (export "prelu_dx")
    (param $dx i32) (param $dy i32) (param $x i32) (param $alpha i32) (param $rows i32) (param $c i32)
    (local $k i32) (local $cb i32) (local $g v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $k))))
            (v128.store
              (i32.add (local.get $dx) (local.get $k))
              (v128.bitselect
                (local.get $g)
                (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $alpha) (local.get $k))))
                (f32x4.gt (v128.load (i32.add (local.get $x) (local.get $k))) (f32x4.splat (f32.const 0)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $dx (i32.add (local.get $dx) (local.get $cb)))
        (local.set $dy (i32.add (local.get $dy) (local.get $cb)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; acc[k] += row[k] over `rows` rows of cb bytes (float32 accumulators).
  (func $sum_rows (param $x i32) (param $rows i32) (param $cb i32) (param $acc i32)
    (local $k i32)
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (v128.store
              (i32.add (local.get $acc) (local.get $k))
              (f32x4.add
                (v128.load (i32.add (local.get $acc) (local.get $k)))
                (v128.load (i32.add (local.get $x) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; acc[k] += (row[k] − mean[k])² over `rows` rows of cb bytes.
  (func $sqdev_rows (param $x i32) (param $rows i32) (param $cb i32) (param $acc i32) (param $mean i32)
    (local $k i32) (local $d v128)
    (block $done
      (loop $next_row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $row_done
          (loop $next_lane
            (br_if $row_done (i32.ge_u (local.get $k) (local.get $cb)))
            (local.set $d
              (f32x4.sub
                (v128.load (i32.add (local.get $x) (local.get $k)))
                (v128.load (i32.add (local.get $mean) (local.get $k)))))
            (v128.store
              (i32.add (local.get $acc) (local.get $k))
              (f32x4.add
                (v128.load (i32.add (local.get $acc) (local.get $k)))
                (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next_lane)))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $next_row))))

  ;; total[k] (float64) += acc[k] (float32), then acc ← 0. c values.
  (func $flush (param $acc i32) (param $total i32) (param $c i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $c)))
        (f64.store
          (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3)))
          (f64.add
            (f64.load (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3))))
            (f64.promote_f32 (f32.load (i32.add (local.get $acc) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $c) (i32.const 2))))

  ;; out[k] = total[k] / rows as float32, c values.
  (func $average (param $out i32) (param $total i32) (param $c i32) (param $rows i32)
    (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $c)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32.demote_f64
            (f64.div
              (f64.load (i32.add (local.get $total) (i32.shl (local.get $k) (i32.const 3))))
              (f64.convert_i32_u (local.get $rows)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next))))

  ;; Per-channel mean and biased variance of rows × c values: out[0:c] the means, out[c:2c] the
  ;; variances. Two passes (the variance about the mean, no E[x²] − μ² cancellation), each
  ;; summing blocks of at most 64 rows in float32 and the blocks in float64. scratch: 12·c bytes.
  (func (export "channel_stats") (param $out i32) (param $x i32) (param $rows i32) (param $c i32) (param $scratch i32)
    (local $cb i32) (local $total i32) (local $left i32) (local $n i32) (local $at i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $total (i32.add (local.get $scratch) (local.get $cb)))
    (memory.fill (local.get $scratch) (i32.const 0) (i32.mul (local.get $c) (i32.const 12)))
    (local.set $left (local.get $rows))
    (local.set $at (local.get $x))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $left)))
        (local.set $n (select (i32.const 64) (local.get $left) (i32.gt_u (local.get $left) (i32.const 64))))
        (call $sum_rows (local.get $at) (local.get $n) (local.get $cb) (local.get $scratch))
        (call $flush (local.get $scratch) (local.get $total) (local.get $c))
        (local.set $at (i32.add (local.get $at) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $left (i32.sub (local.get $left) (local.get $n)))
        (br $next)))
    (call $average (local.get $out) (local.get $total) (local.get $c) (local.get $rows))
    (memory.fill (local.get $total) (i32.const 0) (i32.shl (local.get $c) (i32.const 3)))
    (local.set $left (local.get $rows))
    (local.set $at (local.get $x))
    (block $done2
      (loop $next2
        (br_if $done2 (i32.eqz (local.get $left)))
        (local.set $n (select (i32.const 64) (local.get $left) (i32.gt_u (local.get $left) (i32.const 64))))
        (call $sqdev_rows (local.get $at) (local.get $n) (local.get $cb) (local.get $scratch) (local.get $out))
        (call $flush (local.get $scratch) (local.get $total) (local.get $c))
        (local.set $at (i32.add (local.get $at) (i32.mul (local.get $n) (local.get $cb))))
        (local.set $left (i32.sub (local.get $left) (local.get $n)))
        (br $next2)))
    (call $average (i32.add (local.get $out) (local.get $cb)) (local.get $total) (local.get $c) (local.get $rows)))
)
