//! Times loading an IDX image file (gzip or raw) into `f32` rows, as `latent fit --data` does,
//! for `bench/run`'s `data_load` line: `load_time IMAGES [REPEATS]` prints one JSON object
//! with every repeat's seconds and the shape.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: load_time IMAGES [REPEATS]")?;
    let repeats: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let mut seconds = Vec::new();
    let mut shape = (0, 0);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let data = latent_data::idx::load_pair(path.as_ref(), None)?;
        seconds.push(t.elapsed().as_secs_f64());
        shape = (data.n(), data.dim());
        std::hint::black_box(data);
    }
    let list: Vec<String> = seconds.iter().map(|s| format!("{s:.4}")).collect();
    println!(
        "{{\"library\": \"latent\", \"rows\": {}, \"cols\": {}, \"seconds\": [{}]}}",
        shape.0,
        shape.1,
        list.join(", ")
    );
    Ok(())
}
