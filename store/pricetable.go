package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sluicehq/sluice/gateway"
)

// PriceTable is a price table fetched by `sluice prices update`: its rows
// stand over the embedded table (and under the user's overrides).
type PriceTable struct {
	// Source is the URL or file it came from; Format its format
	// (gateway.FormatGenAIPrices, ...).
	Source string `json:"source"`
	Format string `json:"format"`
	// Fetched is when it was taken.
	Fetched time.Time       `json:"fetched"`
	Rows    []gateway.Price `json:"rows"`
}

var (
	keyPriceTable     = []byte("price_table")
	keyPriceTablePrev = []byte("price_table_prev")
)

// ErrNoPriceTable is returned by RollbackPriceTable when there is no
// previous table to go back to.
var ErrNoPriceTable = errors.New("no price table to go back to")

// PriceTables returns the fetched table in force and the one before it,
// nil for none (the embedded table alone), and whether there is a table
// to roll back to.
func (db *DB) PriceTables() (cur, prev *PriceTable, canRollback bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		var c PriceTable
		ok, err := getJSON(m, keyPriceTable, &c)
		if err != nil {
			return err
		}
		if ok {
			cur = &c
		}
		raw := m.Get(keyPriceTablePrev)
		canRollback = raw != nil
		if raw != nil && string(raw) != "null" {
			var p PriceTable
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("decode %s: %w", keyPriceTablePrev, err)
			}
			prev = &p
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("read price tables: %w", err)
	}
	return cur, prev, canRollback, nil
}

// PutPriceTable makes t the table in force, keeping the one it replaces
// (or the embedded table alone) to roll back to.
func (db *DB) PutPriceTable(t PriceTable) error {
	if len(t.Rows) == 0 {
		return invalidf("price table from %s: no rows", t.Source)
	}
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if old := m.Get(keyPriceTable); old != nil {
			if err := m.Put(keyPriceTablePrev, append([]byte(nil), old...)); err != nil {
				return err
			}
		} else if err := m.Put(keyPriceTablePrev, []byte("null")); err != nil {
			return err
		}
		return m.Put(keyPriceTable, data)
	})
}

// RollbackPriceTable puts back the table in force before the last
// PutPriceTable (the embedded table alone when there was none).
func (db *DB) RollbackPriceTable() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		prev := m.Get(keyPriceTablePrev)
		if prev == nil {
			return ErrNoPriceTable
		}
		var err error
		if string(prev) == "null" {
			err = m.Delete(keyPriceTable)
		} else {
			err = m.Put(keyPriceTable, append([]byte(nil), prev...))
		}
		if err != nil {
			return err
		}
		return m.Delete(keyPriceTablePrev)
	})
}
