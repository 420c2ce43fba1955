// SPDX-License-Identifier: GPL-2.0

//! Pages from the page allocator, owned: a [`Block`] of `1 << order`
//! pages, and [`Pages`], blocks with the page-pointer array that the
//! `set_pages_array_*` calls take.
//!
//! Why not `kernel::page::Page` (6.12 and 7.3): it owns one order-0 page
//! and hands out no `struct page *`; the CPA calls take a pointer to the
//! head of a higher-order block (`set_pages_uc(page, 1 << order)`) or an
//! array of them, and the exerciser allocates blocks up to order 10.

use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KVVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::c_ulong;

use crate::pure::config::{BLOCK_BYTES, FILL_CHUNK, PTR_BYTES};
use crate::sys::accessor;
use crate::sys::log::pr_err_rl;
use crate::sys::{ffi, time};

/// A `struct page *` of a page some [`Block`] owns, as the array calls
/// take them.
///
/// # Invariants
///
/// Made only by [`Block::page`] (the field is private to this file), for a
/// page of a live [`Block`], and neither `Copy` nor `Clone`: outside this
/// layer one is only ever seen inside the array of the [`Pages`] that owns
/// the block, so it cannot outlive it.
#[repr(transparent)]
pub(crate) struct PagePtr(NonNull<bindings::page>);

impl PagePtr {
    /// The `struct page *`, for a C call made while the block lives.
    pub(in crate::sys) fn as_ptr(&self) -> *mut bindings::page {
        self.0.as_ptr()
    }
}

// SAFETY: a pointer to a page this module owns; nothing ties it to a
// thread.
unsafe impl Send for PagePtr {}

/// A block of `1 << order` pages from the page allocator.
///
/// # Invariants
///
/// `head` is the first page of a block of `1 << order` pages allocated
/// with `alloc_pages(order)`, owned by this value. Its pages are WB unless
/// an owner that changed them holds the block (the exerciser's page sets
/// and pool entries); those make them WB again, or leak the block with
/// [`Block::leak`], before it is dropped, so dropping frees WB pages only.
pub(crate) struct Block {
    head: NonNull<bindings::page>,
    order: u32,
}

// SAFETY: a `Block` owns its pages; nothing ties them to a thread.
unsafe impl Send for Block {}
// SAFETY: `&Block` only reads the pages' addresses (and `fill` writes
// the pages, which the caller owns through the block).
unsafe impl Sync for Block {}

// The run's memory pre-check counts this much per block and page pointer.
const _: () = assert!(core::mem::size_of::<Block>() as u64 <= BLOCK_BYTES);
const _: () = assert!(core::mem::size_of::<PagePtr>() as u64 <= PTR_BYTES);

impl Block {
    /// Allocates `1 << order` pages; `-ENOMEM` (quietly) if there are none.
    pub(crate) fn alloc(order: u32) -> Result<Block> {
        // SAFETY: any order may be asked for; one beyond MAX_PAGE_ORDER
        // fails (quietly: `__GFP_NOWARN`).
        let head = unsafe { ffi::pte_attrs_glue_alloc_pages(order) };
        // INVARIANT: a fresh block of `1 << order` pages, WB, ours.
        Ok(Block {
            head: NonNull::new(head).ok_or(ENOMEM)?,
            order,
        })
    }

    /// Allocates a naturally aligned block of `1 << order` pages and keeps
    /// only its page `index` (taken modulo the block's size), an order-0
    /// block; the others go back to the allocator at once. While the page
    /// is held, no other allocation gets the whole block, so pages taken
    /// this way one after the other never share one. `-ENOMEM` (quietly)
    /// if no free block of that order is at hand.
    pub(crate) fn alloc_page_of(order: u32, index: usize) -> Result<Block> {
        // Not dropped: after the split it is `1 << order` blocks of one
        // page, each freed or kept below.
        let block = core::mem::ManuallyDrop::new(Block::alloc(order)?);
        let keep = index & (block.len() - 1);
        if order > 0 {
            // SAFETY: a fresh block of ours from `alloc_pages()` without
            // `__GFP_COMP` (not compound), as `split_page()` requires;
            // nothing else refers to it.
            unsafe { bindings::split_page(block.head.as_ptr(), order) };
        }
        let mut kept = None;
        for i in 0..block.len() {
            let page = block.page(i).ok_or(EINVAL)?;
            if i == keep {
                // INVARIANT: after the split, an order-0 block of its own,
                // WB and ours.
                kept = Some(Block {
                    head: page.0,
                    order: 0,
                });
            } else {
                // SAFETY: after the split each page is an order-0
                // allocation of its own; this one is WB (fresh) and
                // nothing refers to it.
                unsafe { bindings::__free_pages(page.as_ptr(), 0) };
            }
        }
        kept.ok_or(EINVAL)
    }

    /// The block's order.
    pub(crate) fn order(&self) -> u32 {
        self.order
    }

    /// How many pages the block has.
    pub(crate) fn len(&self) -> usize {
        1 << self.order
    }

    /// The `i`th page; `None` past the end.
    pub(in crate::sys) fn page(&self, i: usize) -> Option<PagePtr> {
        if i >= self.len() {
            return None;
        }
        // SAFETY: `head` starts a block of `len()` pages (type invariant)
        // and `i < len()`.
        let p = unsafe { ffi::pte_attrs_glue_nth_page(self.head.as_ptr(), i as c_ulong) };
        NonNull::new(p).map(PagePtr)
    }

    /// The direct-map address of the block's first page (its pages are
    /// contiguous there).
    pub(crate) fn addr(&self) -> usize {
        // SAFETY: `head` is a live page of ours, in the direct map (no
        // highmem on x86_64).
        unsafe { ffi::pte_attrs_glue_page_address(self.head.as_ptr()) as usize }
    }

    /// The page frame number of the block's first page (its frames are
    /// contiguous): `__pa()` of its direct-map address, which on x86_64 is
    /// the address less `PAGE_OFFSET`.
    pub(crate) fn pfn(&self) -> u64 {
        (self.addr() as u64).wrapping_sub(accessor::page_offset()) >> 12
    }

    /// Writes `byte` to every byte of the block, as a GPU driver fills a
    /// buffer object (through the direct map, whatever its cache mode).
    /// Through UC- a 4 MiB block takes long: it yields every 2 MiB.
    pub(crate) fn fill(&self, byte: u8) {
        let len = self.len() << 12;
        let base = self.addr();
        let mut done = 0;
        while done < len {
            let n = (len - done).min(FILL_CHUNK);
            // SAFETY: the block's `len()` pages are ours and contiguous in
            // the direct map, and mapped (a page of ours is never unmapped
            // while we own it); `done + n <= len`.
            unsafe { core::ptr::write_bytes((base + done) as *mut u8, byte, n) };
            done += n;
            time::resched();
        }
    }

    /// Gives the pages up without freeing them: for pages that could not
    /// be made WB again, which must never go back to the allocator.
    pub(crate) fn leak(self) {
        pr_err_rl!(
            "leaking {} page(s) that are not write-back (never freed)\n",
            self.len()
        );
        core::mem::forget(self);
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the block was allocated with this order and is WB (type
        // invariant); nothing refers to it any more.
        unsafe { bindings::__free_pages(self.head.as_ptr(), self.order) };
    }
}

/// Blocks, with an array of all their pages in order.
///
/// Both vectors are kvmalloc'd and, through [`Pages::with_capacity`],
/// allocated once at their exact size: no doubling, so no order-11
/// kmalloc request for a 2^20-page set.
///
/// # Invariants
///
/// `array` lists every page of `blocks`, in order, and nothing else.
pub(crate) struct Pages {
    blocks: KVVec<Block>,
    array: KVVec<PagePtr>,
}

impl Pages {
    /// No pages.
    pub(crate) fn new() -> Self {
        Pages {
            blocks: KVVec::new(),
            array: KVVec::new(),
        }
    }

    /// No pages yet, with room for `pages` pages in `blocks` blocks.
    pub(crate) fn with_capacity(pages: usize, blocks: usize) -> Result<Self> {
        Ok(Pages {
            blocks: KVVec::with_capacity(blocks, GFP_KERNEL)?,
            array: KVVec::with_capacity(pages, GFP_KERNEL)?,
        })
    }

    /// Adds `block`; allocates only past the capacity. On failure the
    /// block is dropped (freed: it is WB, as a new block is).
    pub(crate) fn push(&mut self, block: Block) -> Result {
        self.array.reserve(block.len(), GFP_KERNEL)?;
        self.blocks.reserve(1, GFP_KERNEL)?;
        for i in 0..block.len() {
            let p = block.page(i).ok_or(EINVAL)?;
            // Within the reserved capacity: cannot fail.
            self.array.push(p, GFP_KERNEL)?;
        }
        self.blocks.push(block, GFP_KERNEL)?;
        Ok(())
    }

    /// How many pages.
    pub(crate) fn len(&self) -> usize {
        self.array.len()
    }

    /// The blocks.
    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The page pointers `from..from + n` for an array call; `EINVAL` if
    /// that is past the end.
    pub(crate) fn array_mut(&mut self, from: usize, n: usize) -> Result<&mut [PagePtr]> {
        let end = from.checked_add(n).ok_or(EINVAL)?;
        self.array.get_mut(from..end).ok_or(EINVAL)
    }

    /// Takes every block out, in order.
    pub(crate) fn into_blocks(self) -> KVVec<Block> {
        self.blocks
    }
}
